// Package broker is triaged's NATS JetStream wiring: the embedded server, the connection, the
// names of every subject, stream, consumer and bucket (all derived from one prefix), their
// idempotent creation, and the loop that feeds a durable pull consumer to a bounded worker pool.
package broker
