// Package metrics exposes a running pipeline to Prometheus: a collector
// that reads the runner's per-stage counters at scrape time, and an HTTP
// server with /metrics, /healthz and /readyz (used by `conveyor stream
// --metrics-addr`). The metric families are described in docs/metrics.md.
package metrics

import (
	"math"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/conveyor-etl/conveyor/flow"
)

// Source is what the collector and the probes read: a *flow.Runner.
type Source interface {
	// Report returns every stage's counters (safe while the run goes on).
	Report() []flow.StageReport
	// DeadLettered is the number of records written to the dead-letter output.
	DeadLettered() int64
	// Started reports whether every stage has begun.
	Started() bool
	// Draining reports whether a graceful stop was asked for.
	Draining() bool
	// Finished reports whether every stage has returned.
	Finished() bool
}

var _ Source = (*flow.Runner)(nil)

// Phase is where a run stands, as the readiness probe sees it.
type Phase string

// The phases of a run.
const (
	PhaseStarting Phase = "starting" // not every stage has begun
	PhaseRunning  Phase = "running"  // every stage runs: ready
	PhaseDraining Phase = "draining" // Drain was called: sources stop
	PhaseEnded    Phase = "ended"    // every stage returned
)

// PhaseOf tells where the run of src stands.
func PhaseOf(src Source) Phase {
	switch {
	case src.Finished():
		return PhaseEnded
	case src.Draining():
		return PhaseDraining
	case src.Started():
		return PhaseRunning
	}
	return PhaseStarting
}

// Options configure a Collector.
type Options struct {
	// Pipeline is the pipeline's name, exported as conveyor_pipeline_info.
	Pipeline string
	// Clock is the runner's clock: watermark lag is its now minus the
	// watermark (default: the real clock).
	Clock clock.Clock
}

// Label names of the per-stage families.
var stageLabels = []string{"stage", "function"}

func stageDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("conveyor_stage_"+name, help, stageLabels, nil)
}

// Collector is a prometheus.Collector reading a runner's counters at each
// scrape. It holds no copy of them: a scrape always sees the current run.
type Collector struct {
	src  Source
	opts Options

	rowsIn, rowsOut, batchesIn, batchesOut *prometheus.Desc
	queued, capacity, blocked              *prometheus.Desc
	watermark, watermarkLag, lateRows      *prometheus.Desc
	rejected, retries, readBytes           *prometheus.Desc
	stateBytes, running                    *prometheus.Desc
	deadLetter, info, ready, draining      *prometheus.Desc
}

// NewCollector returns a collector over src.
func NewCollector(src Source, opts Options) *Collector {
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	return &Collector{
		src: src, opts: opts,
		rowsIn:       stageDesc("rows_in_total", "Rows the stage received on its inputs."),
		rowsOut:      stageDesc("rows_out_total", "Rows the stage emitted on its main output (for a sink: rows written)."),
		batchesIn:    stageDesc("batches_in_total", "Batches the stage received on its inputs."),
		batchesOut:   stageDesc("batches_out_total", "Batches the stage emitted on its main output (for a sink: batches written)."),
		queued:       stageDesc("input_queued_batches", "Batches waiting on the stage's input channels."),
		capacity:     stageDesc("input_capacity_batches", "Total capacity of the stage's input channels, in batches."),
		blocked:      stageDesc("blocked_seconds_total", "Time the stage spent waiting for room on a full output channel (backpressure)."),
		watermark:    stageDesc("watermark_seconds", "Last event-time watermark the stage emitted, in Unix seconds (+Inf once its input ended); absent before the first."),
		watermarkLag: stageDesc("watermark_lag_seconds", "Processing time minus the stage's last watermark, in seconds (0 once its input ended); absent before the first watermark."),
		lateRows:     stageDesc("late_rows_total", "Rows a window stage received after their window closed (sent to its late port or the dead-letter output)."),
		rejected:     stageDesc("rejected_rows_total", "Rows the stage rejected (errors port or dead-letter output)."),
		retries:      stageDesc("retries_total", "Batches the stage retried under the retry error strategy."),
		readBytes:    stageDesc("read_bytes_total", "Bytes a source read from its input (sources that know it)."),
		stateBytes:   stageDesc("state_peak_bytes", "Peak memory held as operator state (window, group-by, join, sort buffers), in bytes; 0 for stages that hold none."),
		running:      stageDesc("running_seconds", "Time since the stage started (its total running time once it returned)."),
		deadLetter:   prometheus.NewDesc("conveyor_dead_letter_records_total", "Records written to the pipeline's dead-letter output.", nil, nil),
		info:         prometheus.NewDesc("conveyor_pipeline_info", "Always 1; labels name the pipeline being run.", []string{"pipeline"}, nil),
		ready:        prometheus.NewDesc("conveyor_pipeline_ready", "1 while every stage runs and no drain was asked for (as /readyz), else 0.", nil, nil),
		draining:     prometheus.NewDesc("conveyor_pipeline_draining", "1 once a graceful stop (drain) was asked for, else 0.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.rowsIn, c.rowsOut, c.batchesIn, c.batchesOut, c.queued, c.capacity, c.blocked,
		c.watermark, c.watermarkLag, c.lateRows, c.rejected, c.retries, c.readBytes,
		c.stateBytes, c.running, c.deadLetter, c.info, c.ready, c.draining,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one reading of Report.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.opts.Clock.Now()
	for _, s := range c.src.Report() {
		lv := []string{s.ID, s.Function}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
		}
		counter(c.rowsIn, float64(s.RowsIn))
		counter(c.rowsOut, float64(s.RowsOut))
		counter(c.batchesIn, float64(s.BatchesIn))
		counter(c.batchesOut, float64(s.BatchesOut))
		gauge(c.queued, float64(s.Queued))
		gauge(c.capacity, float64(s.Capacity))
		counter(c.blocked, s.Blocked.Seconds())
		if !s.Watermark.IsZero() {
			wm, lag := watermarkValues(s.Watermark, now)
			gauge(c.watermark, wm)
			gauge(c.watermarkLag, lag)
		}
		counter(c.lateRows, float64(s.LateRows))
		counter(c.rejected, float64(s.Rejected))
		counter(c.retries, float64(s.Retries))
		counter(c.readBytes, float64(s.BytesRead))
		gauge(c.stateBytes, float64(s.PeakBytes))
		gauge(c.running, s.Elapsed.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.deadLetter, prometheus.CounterValue, float64(c.src.DeadLettered()))
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, c.opts.Pipeline)
	phase := PhaseOf(c.src)
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, boolValue(phase == PhaseRunning))
	ch <- prometheus.MustNewConstMetric(c.draining, prometheus.GaugeValue, boolValue(c.src.Draining()))
}

// watermarkValues is a watermark in Unix seconds and its lag behind now;
// the end-of-input watermark (flow.EndOfTime) is +Inf with no lag.
func watermarkValues(wm, now time.Time) (seconds, lag float64) {
	if !wm.Before(flow.EndOfTime) {
		return math.Inf(1), 0
	}
	return float64(wm.UnixMicro()) / 1e6, now.Sub(wm).Seconds()
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// NewRegistry returns a fresh registry (not the global one) holding c and
// the Go runtime and process collectors.
func NewRegistry(c *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
