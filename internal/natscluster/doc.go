// Package natscluster runs a real three-node nats-server cluster for tests, each node a process
// of its own built from the nats-server module triaged already depends on (nothing downloaded),
// so a test can kill a node with SIGKILL, restart it on its ports and store, or freeze it for a
// while, as happens to a production cluster. Nodes listen on loopback only. Process does the same
// for any other child of a test, such as a triaged replica a test kills.
package natscluster
