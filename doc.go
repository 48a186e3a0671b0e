// Package triaged holds the nouns that every other package of triaged speaks: the Alert taken from
// an Alertmanager webhook, the Severity it is given, and the Report that comes out, with the codecs
// that put alerts and reports on the streams and read them back. It imports nothing of ours, so
// every package can depend on it and it depends on none of them.
package triaged
