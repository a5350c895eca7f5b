package gitgate

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
)

func newHistory(c *common) *cobra.Command {
	return &cobra.Command{
		Use:   "history ENV",
		Short: "List the commits and break-glass changes of an environment, newest first",
		Long: templates.LongDesc(`
			List the commits that changed an environment's directory on its branch,
			newest first: promotions (with their name and who promoted) and any
			other commit, such as a developer's change or Flux's image automation.
			Break-glass changes made outside Git are listed among them, with who
			made them and why; each is a commit on the repository's audit ref
			refs/gitgate/audit, which Flux does not read.`),
		Example: templates.Examples(`
			kubectl gitgate history prod
			kubectl gitgate history prod -n shop --context bob`),
		Run: func(cmd *cobra.Command, args []string) {
			env, err := oneEnvironment(cmd, args)
			cmdutil.CheckErr(err)
			cmdutil.CheckErr(c.complete())
			h, err := c.client.GitgateV1alpha1().Environments(c.namespace).GetHistory(cmd.Context(), env, metav1.GetOptions{})
			cmdutil.CheckErr(err)
			w := printers.GetNewTabWriter(c.Out)
			fmt.Fprintln(w, "COMMIT\tAGE\tPROMOTION\tBY\tSUBJECT")
			for _, e := range h.Entries {
				age, by := "<unknown>", e.PromotedBy
				if e.Time != nil {
					age = duration.HumanDuration(time.Since(e.Time.Time))
				}
				if by == "" {
					by = e.Author
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", short(e.Commit), age, orDash(e.Promotion), by, e.Subject)
			}
			cmdutil.CheckErr(w.Flush())
		},
	}
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
