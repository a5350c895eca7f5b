// Command kubectl-gitgate is the kubectl plugin behind `kubectl gitgate`:
// history, diff, rollback, seal, audit and the ui page of gitgate environments.
package main

import (
	"context"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/gitgate-dev/gitgate/pkg/kubectl/gitgate"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmdutil.CheckErr(gitgate.NewPluginCommand(streams, os.Args[1:]).ExecuteContext(context.Background()))
}
