package changes

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/image"
)

// FuzzApply: import -c and commit -c values (Dockerfile instructions, one
// per value, "\n" separating values here) are applied or refused with an
// error, never a panic.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		"CMD [\"sh\"]\nENTRYPOINT /bin/x\nENV A=b C=\"d e\"",
		"EXPOSE 80/tcp 1000-1002\nVOLUME [\"/data\"]\nWORKDIR /x\nUSER 1:2",
		"LABEL a=b \"c d\"=e\nSTOPSIGNAL SIGKILL\nONBUILD RUN x",
		"HEALTHCHECK --interval=5s CMD true\nSHELL [\"/bin/bash\", \"-c\"]",
		"FROM x\nRUN y\nENV",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var cfg image.ContainerConfig
		Apply(&cfg, strings.Split(s, "\n"))
	})
}
