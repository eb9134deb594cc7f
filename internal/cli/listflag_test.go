package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestStringArrayFlag: each use adds one value, commas included, as
// pflag's stringArray; help shows its type and no default.
func TestStringArrayFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, nil},
		{[]string{"-e", "A=1"}, []string{"A=1"}},
		{[]string{"-e", "A=1,B=2", "--env", "C=3", "-eD="}, []string{"A=1,B=2", "C=3", "D="}},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var got []string
		stringArrayVarP(fs, &got, "env", "e", "Set environment variables")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
		if help := fs.FlagUsages(); !strings.Contains(help, "-e, --env stringArray   Set environment variables\n") {
			t.Errorf("help: %q", help)
		}
	}
}
