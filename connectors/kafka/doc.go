// Package kafka provides kafka.consume and kafka.produce (github.com/segmentio/kafka-go):
// consumer groups with at-least-once delivery end to end (offsets are
// committed only once every sink downstream acknowledged the rows read
// from them, through the flow package's barriers), and a producer that
// writes synchronously, so its writes are durable when Write returns.
package kafka
