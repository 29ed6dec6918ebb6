package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

func newDevCmd() *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Local stand-ins for external systems, for development",
	}
	var port, partitions int
	var topics []string
	var dataDir string
	kafkaCmd := &cobra.Command{
		Use:   "kafka",
		Short: "Run a single-node Kafka-protocol broker on 127.0.0.1 until interrupted",
		Long: `Starts a single-node broker speaking the Kafka protocol (franz-go's kfake) on
127.0.0.1:9092, so pipelines with kafka.consume and kafka.produce run on a laptop
with no Kafka installed. Topics are created on first use (with --partitions
partitions) or up front with --topic NAME[:PARTITIONS]. Data lives in memory unless
--data DIR is given. Ctrl-C stops it.

  conveyor dev kafka --topic events:4
  conveyor stream examples/kafka_enrich.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation(),
				kfake.DefaultNumPartitions(partitions)}
			for _, t := range topics {
				name, n := t, partitions
				if i := strings.LastIndexByte(t, ':'); i > 0 {
					p, err := strconv.Atoi(t[i+1:])
					if err != nil || p < 1 {
						return &exitError{exitInvalid, fmt.Errorf("--topic %q: want NAME or NAME:PARTITIONS", t)}
					}
					name, n = t[:i], p
				}
				opts = append(opts, kfake.SeedTopics(int32(n), name))
			}
			if dataDir != "" {
				opts = append(opts, kfake.DataDir(dataDir))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				return &exitError{exitFailed, fmt.Errorf("dev kafka: %w", err)}
			}
			defer c.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "Kafka-protocol broker listening on %s (Ctrl-C to stop)\n", strings.Join(c.ListenAddrs(), ", "))
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			select {
			case <-sigs:
			case <-cmd.Context().Done():
			}
			return nil
		},
	}
	kafkaCmd.Flags().IntVar(&port, "port", 9092, "port on 127.0.0.1")
	kafkaCmd.Flags().IntVar(&partitions, "partitions", 4, "partitions of topics created on first use")
	kafkaCmd.Flags().StringArrayVar(&topics, "topic", nil, "topic to create at start, NAME or NAME:PARTITIONS (repeatable)")
	kafkaCmd.Flags().StringVar(&dataDir, "data", "", "keep the broker's data in this directory (default: in memory)")
	dev.AddCommand(kafkaCmd)
	return dev
}
