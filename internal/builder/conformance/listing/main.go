// Command listing prints the conformance result (see package conformance)
// of an image saved by `docker save`, against its base image's archive:
//
//	listing IMAGE.tar [BASE.tar] > expected.json
//
// or of a root filesystem tar (docker build -o type=tar):
//
//	listing -rootfs ROOTFS.tar > expected.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/strata-dev/strata/internal/builder/conformance"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: listing IMAGE.tar [BASE.tar]")
		os.Exit(2)
	}
	if os.Args[1] == "-rootfs" && len(os.Args) == 3 {
		fs, err := conformance.FromRootfsTar(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out, _ := json.MarshalIndent(conformance.Result{Files: fs.Diff(conformance.NewFS())}, "", "  ")
		fmt.Println(string(out))
		return
	}
	fs, cfg, n, err := conformance.FromDockerArchive(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	base := conformance.NewFS()
	if len(os.Args) > 2 {
		if base, _, _, err = conformance.FromDockerArchive(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	c, err := conformance.ConfigFields(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(conformance.Result{Layers: n, Config: c, Files: fs.Diff(base)}, "", "  ")
	fmt.Println(string(out))
}
