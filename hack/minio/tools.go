//go:build tools

// Package tools pins github.com/minio/minio so `go build` resolves it from this module's go.sum.
package tools

import _ "github.com/minio/minio"
