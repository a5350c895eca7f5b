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

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

func main() {
	root, _ := os.Getwd()
	repoRoot := flag.String("repo-root", root, "gitgate checkout holding bin/ and artifacts/")
	dir := flag.String("dir", filepath.Join(root, "_output", "dev"), "directory for the stack's files (wiped at start)")
	node := flag.Bool("node", false, "run a node (containerd, kubelet, kube-proxy) and install gitgate with helm into pods (root; make run-node)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println("Starting etcd, kube-apiserver, the fleet's Git server, Flux, Sealed Secrets and gitgate-apiserver...")
	stack, err := localstack.Start(ctx, localstack.Options{RepoRoot: *repoRoot, Dir: *dir, Node: *node})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local stack failed:", err)
		os.Exit(1)
	}
	defer func() {
		if err := stack.StopNode(); err != nil {
			fmt.Fprintln(os.Stderr, "the node's teardown left this behind:", err)
		}
	}()
	env := filepath.Join(*dir, "env")
	fmt.Printf(`
gitgate is running. In another shell:

  source %s
  kubectl get environments                               # dev, test, prod of namespace %s
  kubectl gitgate diff prod                              # what promoting test into prod would change
  kubectl create promotion --to prod --context alice     # 403: alice may not promote into prod
  kubectl create promotion --to prod --context bob       # a commit on the fleet's main branch
  kubectl get promotions
  kubectl get deployment app -n shop-prod -o wide         # Flux applied the promotion
  kubectl get environment prod -o jsonpath='{.status.sync}'
  kubectl set image deployment/app app=x:1 -n shop-prod  # refused: Git is the only door
  kubectl create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml \
    | kubectl gitgate seal --environment prod --context bob
  kubectl gitgate history prod
  git clone "$GITGATE_GIT_URL" fleet && git -C fleet log -3

Logs: %s
Press Ctrl-C to stop everything.
`, env, stack.Namespace, filepath.Join(*dir, "logs"))
	<-ctx.Done()
	fmt.Println("\nStopping...")
}
