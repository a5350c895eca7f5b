// Command pause is the node's pod sandbox: it holds the pod's namespaces
// until it is told to stop, and reaps the orphans that end up its children
// (it is PID 1 when the pod shares its PID namespace). A static Go binary,
// so the node needs neither a registry nor a C toolchain.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
