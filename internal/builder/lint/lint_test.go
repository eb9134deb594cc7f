package lint

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/testutil"
)

var amd64 = image.Platform{OS: "linux", Architecture: "amd64"}

func TestCheckRules(t *testing.T) {
	cases := []struct {
		name       string
		dockerfile string
		args       map[string]string
		base       string // config of every base image ("" = unknown)
		want       []string
	}{
		{name: "clean", dockerfile: "FROM busybox AS build\nRUN true\nCMD [\"sh\"]\n"},
		{name: "from as casing", dockerfile: "FROM busybox as build\nRUN true\n",
			want: []string{"FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"}},
		{name: "stage name casing", dockerfile: "FROM busybox AS Build\nFROM build\n",
			want: []string{"StageNameCasing: Stage name 'Build' should be lowercase (line 1)"}},
		{name: "json args", dockerfile: "FROM busybox\nCMD echo hi\n",
			want: []string{"JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)"}},
		{name: "maintainer and legacy env", dockerfile: "FROM busybox\nMAINTAINER me\nENV a b\n",
			want: []string{
				"MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)",
				"LegacyKeyValueFormat: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format (line 3)",
			}},
		{name: "undefined var", dockerfile: "FROM busybox\nENV A=$NOPE\n",
			want: []string{"UndefinedVar: Usage of undefined variable '$NOPE' (line 2)"}},
		// A variable of the base image's config is defined: the config
		// comes from BaseConfig.
		{name: "var from base image", dockerfile: "FROM busybox\nENV A=$FROMBASE\n",
			base: `{"os":"linux","architecture":"amd64","config":{"Env":["FROMBASE=1"]},"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}`},
		{name: "skipped by directive", dockerfile: "# check=skip=FromAsCasing\nFROM busybox as build\n"},
		{name: "secret in env", dockerfile: "FROM busybox\nENV DB_PASSWORD=x\n",
			want: []string{"SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\") (line 2)"}},
		{name: "duplicate stage", dockerfile: "FROM busybox AS a\nFROM busybox AS a\n",
			want: []string{"DuplicateStageName: Duplicate stage name \"a\", stage names should be unique (line 2)"}},
		{name: "workdir relative", dockerfile: "FROM busybox\nWORKDIR rel\n",
			want: []string{"WorkdirRelativePath: Relative workdir \"rel\" can have unexpected results if the base image changes (line 2)"}},
		{name: "platform in from", dockerfile: "FROM --platform=linux/amd64 busybox\n",
			want: []string{"FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value \"linux/amd64\" (line 1)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Platform: amd64, BuildArgs: c.args}
			if c.base != "" {
				o.BaseConfig = func(string, image.Platform) []byte { return []byte(c.base) }
			}
			res, err := Check(context.Background(), []byte(c.dockerfile), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != "" {
				t.Fatalf("error: %s", res.Error)
			}
			var got []string
			for _, w := range res.Warnings {
				got = append(got, w.Short())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestCheckRefused(t *testing.T) {
	res, err := Check(context.Background(), []byte("FROM busybox\nCOPY --nope a b\n"), Options{Filename: "my.Dockerfile"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Error, "my.Dockerfile:2: ") {
		t.Errorf("error %q does not name the line", res.Error)
	}
}

// The report of --check and the summary after a build, as buildx prints
// them.
func TestPrint(t *testing.T) {
	df := "FROM busybox as build\nRUN true\nCMD echo hi\n"
	res, err := Check(context.Background(), []byte(df), Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := res.PrintCheck(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString("---\n")
	res.PrintSummary(&b)
	testutil.Golden(t, "testdata/check.golden", b.String())

	clean, err := Check(context.Background(), []byte("FROM busybox\n"), Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	clean.PrintCheck(&b)
	clean.PrintSummary(&b)
	if b.String() != "Check complete, no warnings found.\n" {
		t.Errorf("clean: %q", b.String())
	}
}
