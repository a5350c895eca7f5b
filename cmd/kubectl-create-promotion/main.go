// Command kubectl-create-promotion is the kubectl plugin behind
// `kubectl create promotion` (kubectl 1.29+ runs create-subcommand plugins).
package main

import (
	"context"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/gitgate-dev/gitgate/pkg/kubectl/createpromotion"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := createpromotion.NewPluginCommand(streams, os.Args[1:])
	// Errors print as kubectl prints them ("error: ...", "Error from server
	// (Forbidden): ...") and exit 1.
	cmdutil.CheckErr(cmd.ExecuteContext(context.Background()))
}
