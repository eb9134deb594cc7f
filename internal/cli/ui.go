package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/ui"
)

func newUICmd(a *app) *cobra.Command {
	var (
		addr, token, db string
		open, readOnly  bool
		cf              containerFlags
		reg             registryFlags
	)
	c := &cobra.Command{
		Use:   "ui [OPTIONS]",
		Short: "Browse, delete, prune and pull images in a web browser",
		Long: `Serve the store's images, layers, files and containers to a web browser, from this
binary (nothing is fetched from the internet), and print the URL to open.

The URL carries a token made at each start; every request needs it, and requests that
change the store (delete, prune, pull) must also come from the page itself. The server
listens on loopback unless --addr says otherwise; another address needs --read-only
(views only) or a --token of your choice. The image page lists each layer's packages and,
with --db or the default advisory database, their findings (as strata sbom and scan).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ui.CheckAddr(addr, readOnly, cmd.Flags().Changed("token")); err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			srv, err := ui.New(ui.Options{
				Store:      st,
				Containers: func() (*container.Manager, error) { return a.containers(&cf) },
				Registry:   func(p registry.Progress) (*registry.Client, error) { return newRegistryClient(reg, p) },
				Token:      token,
				ReadOnly:   readOnly,
				AdvisoryDB: db,
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			url := fmt.Sprintf("http://%s/?token=%s", ln.Addr(), srv.Token())
			a.println("strata ui: " + url)
			if open {
				if err := exec.Command("xdg-open", url).Start(); err != nil {
					fmt.Fprintln(a.stderr, "could not open a browser (xdg-open): open the URL above")
				}
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-ctx.Done()
				sctx, done := context.WithTimeout(context.Background(), 2*time.Second)
				defer done()
				hs.Shutdown(sctx)
			}()
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:0", "address to listen on (HOST:PORT; port 0: any free one)")
	f.StringVar(&token, "token", "", "the token requests must carry (default: a random one at each start)")
	f.BoolVar(&open, "open", false, "open the URL in the desktop's browser (xdg-open)")
	f.BoolVar(&readOnly, "read-only", false, "serve views only: refuse delete, prune and pull")
	f.StringVar(&db, "db", "", "directory of OSV advisories the image page matches packages against (default $XDG_CACHE_HOME/strata/osv, when it exists)")
	cf.add(f)
	reg.add(c)
	return c
}
