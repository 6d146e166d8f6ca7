//go:build tools

// Package tools pins the modules the project depends on before every package
// imports them, so that `go mod tidy` keeps go.mod stable while work lands.
package tools

import (
	_ "github.com/fiorix/go-smpp/smpp"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/bbolt"
	_ "go.uber.org/goleak"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/text/encoding/charmap"
)
