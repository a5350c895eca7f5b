package plugin

import (
	"flag"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// AddVerbosityFlags adds kubectl's -v/--v and --vmodule to fs: the log
// level of klog, which client-go reads to log requests (-v=6), their
// headers (-v=8) and bodies (-v=9), as kubectl does.
func AddVerbosityFlags(fs *pflag.FlagSet) {
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	for _, name := range []string{"v", "vmodule"} {
		f := pflag.PFlagFromGoFlag(klogFlags.Lookup(name))
		if name == "v" {
			f.Shorthand = "v"
		}
		fs.AddFlag(f)
	}
}
