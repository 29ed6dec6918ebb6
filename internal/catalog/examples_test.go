package catalog

import (
	"context"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"bytes"
	"strings"
	"testing"

	httpconn "github.com/conveyor-etl/conveyor/connectors/http"
	"github.com/conveyor-etl/conveyor/connectors/mongodb"
	"github.com/conveyor-etl/conveyor/connectors/stdio"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx/httpxtest"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators/ai/aiexample"
	"github.com/conveyor-etl/conveyor/operators/crypt"
	"github.com/conveyor-etl/conveyor/operators/subpipeline"
)

// TestEverySpecExample runs every example of every registered stage (see
// spectest.Run for what is checked) and requires each stage to document
// itself: a summary, a description, a doc line per parameter, an example.
func TestEverySpecExample(t *testing.T) {
	t.Setenv(crypt.ExampleKeyEnv, crypt.ExampleKey) // encrypt/decrypt examples
	for _, spec := range Registry().Specs() {
		if spec.Summary == "" || spec.Description == "" {
			t.Errorf("%s lacks a summary or description", spec.Name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: parameter %s has no doc", spec.Name, p.Name)
			}
		}
		if len(spec.Examples) == 0 {
			t.Errorf("%s has no example", spec.Name)
		}
		for _, ex := range spec.Examples {
			t.Run(spec.Name+"/"+ex.Title, func(t *testing.T) { runExample(t, spec, ex) })
		}
	}
}

// runExample binds the stdio stages to the example: stdin.read reads its
// Input, and what stdout.write prints must equal its Output.
func runExample(t *testing.T, spec *flow.Spec, ex flow.Example) {
	switch spec.Name {
	case "pipeline.input", "pipeline.output":
		// They only exist inside a pipeline run by pipeline.run.
		run, _ := Registry().Lookup("pipeline.run")
		ex.Config = "inline = '''\n" + subpipeline.PassThrough + "'''\n"
		spectest.Run(t, run, ex)
		return
	case "kafka.consume", "kafka.produce":
		// A real Kafka-protocol broker in process, holding the example's
		// input topic.
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events", "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		addr := c.ListenAddrs()[0]
		w := &kafkago.Writer{Addr: kafkago.TCP(addr), Topic: "events"}
		for i := 1; i <= 3; i++ {
			if err := w.WriteMessages(context.Background(), kafkago.Message{Value: []byte(fmt.Sprintf(`{"id":%d}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		ex.Config = strings.ReplaceAll(ex.Config, "127.0.0.1:9092", addr)
		spectest.Run(t, spec, ex)
	case "http.fetch", "http.post", "http.put", "http.patch", "http.delete":
		// A loopback server answering the examples' requests; a sink
		// example's Output is what the server received.
		srv := httpxtest.Start()
		defer srv.Close()
		ex.Config = srv.Rewrite(ex.Config)
		spectest.Run(t, spec, ex)
		if spec.Kind == flow.KindSink && srv.Received() != ex.Output {
			t.Errorf("server received:\n%s\nwant:\n%s", srv.Received(), ex.Output)
		}
	case "ai.generate":
		srv := aiexample.ExampleServer()
		defer srv.Close()
		ex.Config = aiexample.Rewrite(ex.Config, srv)
		spectest.Run(t, spec, ex)
	case "http.get":
		srv := httpconn.NewExampleServer()
		defer srv.Close()
		ex.Config = httpconn.ExampleConfig(ex.Config, srv.URL)
		spectest.Run(t, spec, ex)
	case "http.serve":
		spectest.Run(t, httpconn.ServeExampleSpec(ex.Input), ex)
	case "mongodb.find", "mongodb.findOne", "mongodb.aggregate", "mongodb.insertOne", "mongodb.insertMany",
		"mongodb.updateOne", "mongodb.updateMany", "mongodb.deleteOne", "mongodb.deleteMany",
		"mongodb.replaceOne", "mongodb.replaceMany", "mongodb.bulkWrite":
		uri := exampleMongo(t)
		ex.Config = strings.ReplaceAll(ex.Config, mongodb.ExampleURI, uri)
		spectest.Run(t, spec, ex)
	case "stdin.read":
		spectest.Run(t, stdio.ReadSpec(strings.NewReader(ex.Input)), ex)
	case "stdin.stream":
		spectest.Run(t, stdio.StreamSpec(strings.NewReader(ex.Input)), ex)
	case "stdout.write", "stdout.stream":
		var printed bytes.Buffer
		w := stdio.WriteSpec(&printed)
		if spec.Name == "stdout.stream" {
			w = stdio.StreamWriteSpec(&printed)
		}
		spectest.Run(t, w, ex)
		if printed.String() != ex.Output {
			t.Errorf("printed:\n%s\nwant:\n%s", printed.String(), ex.Output)
		}
	default:
		spectest.Run(t, spec, ex)
	}
}
