package gitgate

import (
	"fmt"
	"html"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/gitgate-dev/gitgate/pkg/kubectl/ui"
)

func newUI(c *common) *cobra.Command {
	var port int
	var open, all bool
	cmd := &cobra.Command{
		Use:   "ui [-n NAMESPACE | -A] [--port PORT] [--open]",
		Short: "Serve a local page of the namespace's pipeline, acting as you",
		Long: templates.LongDesc(`
			Serve a web page of the namespace's environments as a pipeline: images,
			revisions, Flux sync, drift, pending changes and the latest promotions,
			updated live. Promote, roll back, approve and reject from it, with your own kubeconfig
			credentials and RBAC: buttons you may not use are disabled with the
			reason.

			The page is served on 127.0.0.1 only, at a URL with a random token:
			whoever has the URL acts as you until you stop the command.`),
		Example: templates.Examples(`
			kubectl gitgate ui -n shop
			kubectl gitgate ui --all-namespaces
			kubectl gitgate ui -n shop --port 8123 --open`),
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			cmdutil.CheckErr(c.complete())
			config, err := c.configFlags.ToRESTConfig()
			cmdutil.CheckErr(err)
			s, err := ui.New(ui.Options{Port: port, Namespace: c.namespace, AllNamespaces: all, Config: config})
			cmdutil.CheckErr(err)
			// Ctrl-C stops the server; set up before the URL is printed, so
			// that whoever reads the URL may stop it at once.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if all {
				fmt.Fprintf(c.Out, "Serving the pipelines of all namespaces at %s\n", s.URL())
			} else {
				fmt.Fprintf(c.Out, "Serving the pipeline of namespace %s at %s\n", c.namespace, s.URL())
			}
			fmt.Fprintln(c.ErrOut, "Whoever has this URL acts as you; press Ctrl-C to stop.")
			if open {
				cleanup, err := openBrowser(s.URL())
				if err != nil {
					fmt.Fprintf(c.ErrOut, "could not open a browser (%v): open the URL above yourself\n", err)
				}
				defer cleanup()
			}
			cmdutil.CheckErr(s.Serve(ctx))
		},
	}
	cmd.Flags().IntVar(&port, "port", 0, "Port to serve on, on 127.0.0.1; 0 picks a free one.")
	cmd.Flags().BoolVar(&open, "open", false, "Open the page with xdg-open.")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "Show the pipelines of every namespace whose environments you may list.")
	return cmd
}

// openBrowser opens url with xdg-open through a private file that redirects
// to it, so the token never appears on a command line (which other local
// users can read in /proc). cleanup removes the file; call it when the
// server stops.
func openBrowser(url string) (cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "gitgate-ui-") // mode 0700
	if err != nil {
		return func() {}, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "open.html")
	page := `<!doctype html><meta http-equiv="refresh" content="0;url=` + html.EscapeString(url) + `"><title>gitgate</title>`
	if err := os.WriteFile(file, []byte(page), 0o600); err != nil {
		return cleanup, err
	}
	cmd := exec.Command("xdg-open", file)
	if err := cmd.Start(); err != nil {
		return cleanup, err
	}
	go func() { _ = cmd.Wait() }()
	return cleanup, nil
}
