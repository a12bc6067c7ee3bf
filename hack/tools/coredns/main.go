// Command coredns is CoreDNS built with only the plugins the flalliance cluster's Corefile uses
// (hack/manifests/coredns.yaml). Upstream's main links every plugin, cloud SDKs included; leaving them out
// keeps the cold build short on a 2-core CI machine. No "forward" plugin: cluster DNS never sends a query
// anywhere but the API server.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
