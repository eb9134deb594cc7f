package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// stringArrayVarP defines a flag each use of which adds one value, as
// pflag's StringArrayVarP with no default. pflag's own renders a value
// through a csv.Writer with a fresh 4 KiB buffer and does so once for
// every flag as it is defined, to record its default: for strata's 35
// list flags that was about 100 page faults and half a millisecond at the
// start of every command, `run` and `version` alike.
func stringArrayVarP(fs *pflag.FlagSet, p *[]string, name, short, usage string) {
	*p = nil
	fs.VarP(&stringList{p: p}, name, short, usage)
}

type stringList struct{ p *[]string }

func (s *stringList) Set(v string) error {
	*s.p = append(*s.p, v)
	return nil
}

// Type is pflag's name for the kind, which help shows.
func (s *stringList) Type() string { return "stringArray" }

// String is "" when empty: pflag then shows no default in help, as for
// its own stringArray.
func (s *stringList) String() string {
	if len(*s.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*s.p, ",") + "]"
}
