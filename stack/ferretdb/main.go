// ferretdb-local: the MongoDB-wire server of the local stack.
//
// FerretDB 1.x's own cmd/ferretdb only runs when built from its git checkout (it
// panics without a generated version file), so the stack builds this small launcher
// around FerretDB's embeddable package instead: same server, same wire protocol,
// SQLite backend in a directory under the stack's state (the default) or, with
// --postgresql-url, FerretDB's PostgreSQL backend (measured in docs/BENCHMARKS.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "", "directory holding the SQLite databases")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL backend instead of SQLite, e.g. postgres://user@host:5432/db")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s (--sqlite-dir DIR | --postgresql-url URL) [--listen-addr HOST:PORT] [--log-level LEVEL]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if (*dir == "") == (*pgURL == "") {
		fmt.Fprintln(os.Stderr, "ferretdb-local: give exactly one of --sqlite-dir and --postgresql-url")
		flag.Usage()
		os.Exit(2)
	}
	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}}
	if *pgURL != "" {
		cfg.Handler, cfg.PostgreSQLURL = "postgresql", *pgURL
	} else {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
			os.Exit(1)
		}
		cfg.Handler, cfg.SQLiteURL = "sqlite", "file:"+*dir+"/"
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local: bad --log-level:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	cfg.Logger = logger
	f, err := ferretdb.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger.Warn("ferretdb-local listening", "addr", *listen, "handler", cfg.Handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
		os.Exit(1)
	}
}
