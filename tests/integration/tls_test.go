package integration

import (
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// TestTLSRegistry runs Debian's docker-registry on TLS with a generated CA:
// strata refuses it with one line by default, accepts it with
// --tls-verify=false or once the CA is in certs.d/HOST:PORT/ca.crt
// (STRATA_CERTS_DIR here), and presents client.cert/client.key from there
// to a registry that requires a client certificate.
func TestTLSRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts registries")
	}
	certs := t.TempDir()
	t.Setenv("STRATA_CERTS_DIR", certs)
	ca := registrytest.NewCA(t, "strata test CA")
	reg := registrytest.Start(t, registrytest.Options{TLS: ca})
	root := t.TempDir()
	must(t, root, "import", busyboxTar(t), "base:1")
	id := must(t, root, "image", "inspect", "--format", "{{.Id}}", "base:1")

	_, errOut, code := strata(t, root, "push", "-q", "base:1", reg.Host+"/tls/base:1")
	if code == 0 {
		t.Fatal("a push to a registry with an unknown CA succeeded")
	}
	oneErrorLine(t, "unknown CA", errOut, "TLS certificate not accepted")
	must(t, root, "push", "-q", "--tls-verify=false", "base:1", reg.Host+"/tls/base:1")

	ca.WriteCA(t, filepath.Join(certs, reg.Host, "ca.crt"))
	dst := t.TempDir()
	must(t, dst, "pull", "-q", reg.Host+"/tls/base:1")
	if got := must(t, dst, "image", "inspect", "--format", "{{.Id}}", reg.Host+"/tls/base:1"); got != id {
		t.Errorf("pulled %s, pushed %s", got, id)
	}

	// A registry that wants a client certificate signed by another CA.
	clientCA := registrytest.NewCA(t, "strata client CA")
	mtls := registrytest.Start(t, registrytest.Options{TLS: ca, ClientCA: clientCA})
	ca.WriteCA(t, filepath.Join(certs, mtls.Host, "ca.crt"))
	if _, errOut, code := strata(t, root, "push", "-q", "base:1", mtls.Host+"/tls/base:1"); code == 0 {
		t.Fatal("a push without a client certificate succeeded")
	} else {
		oneErrorLine(t, "no client certificate", errOut, "asks for a client certificate")
	}
	clientCA.Issue(t, filepath.Join(certs, mtls.Host), "client", ".cert")
	must(t, root, "push", "-q", "base:1", mtls.Host+"/tls/base:1")
	must(t, t.TempDir(), "pull", "-q", mtls.Host+"/tls/base:1")
}
