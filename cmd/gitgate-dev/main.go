// Command gitgate-dev runs the local stack (`make run`): etcd,
// kube-apiserver, a Git server with the example fleet, and
// gitgate-apiserver, until Ctrl-C or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/gitgate-dev/gitgate/pkg/localstack"
)

func main() {
	root, _ := os.Getwd()
	repoRoot := flag.String("repo-root", root, "gitgate checkout holding bin/ and artifacts/")
	dir := flag.String("dir", filepath.Join(root, "_output", "dev"), "directory for the stack's files (wiped at start)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println("Starting etcd, kube-apiserver, the fleet's Git server and gitgate-apiserver...")
	stack, err := localstack.Start(ctx, localstack.Options{RepoRoot: *repoRoot, Dir: *dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local stack failed:", err)
		os.Exit(1)
	}
	defer stack.Stop()
	env := filepath.Join(*dir, "env")
	fmt.Printf(`
gitgate is running. In another shell:

  source %s
  kubectl get environments                 # dev, test, prod of namespace %s
  kubectl --context alice create -f - <<EOF
  apiVersion: gitgate.dev/v1alpha1
  kind: Promotion
  metadata: {generateName: test-}
  spec: {environment: test}
  EOF
  kubectl get promotions
  kubectl --context alice create -f - <<<'{"apiVersion":"gitgate.dev/v1alpha1","kind":"Promotion","metadata":{"generateName":"prod-"},"spec":{"environment":"prod"}}'   # 403: alice may not promote into prod
  kubectl --context bob   create -f - <<<'{"apiVersion":"gitgate.dev/v1alpha1","kind":"Promotion","metadata":{"generateName":"prod-"},"spec":{"environment":"prod"}}'
  git clone "$GITGATE_GIT_URL" fleet && git -C fleet log -3       # the promotions are commits

Logs: %s
Press Ctrl-C to stop everything.
`, env, stack.Namespace, filepath.Join(*dir, "logs"))
	<-ctx.Done()
	fmt.Println("\nStopping...")
}
