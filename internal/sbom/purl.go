package sbom

import (
	"strings"

	"github.com/package-url/packageurl-go"
)

// purlOf is the package URL of p, as syft writes them: OS packages name
// the distro (namespace and distro qualifier), Go modules split their path
// at the last slash, npm scopes are namespaces.
func purlOf(p *Package, d *Distro) string {
	var typ, ns, name = "", "", p.Name
	var q packageurl.Qualifiers
	switch p.Ecosystem {
	case Debian, Alpine:
		typ = packageurl.TypeDebian
		ns = "debian"
		if p.Ecosystem == Alpine {
			typ, ns = packageurl.TypeApk, "alpine"
		}
		if d != nil && d.ID != "" {
			ns = d.ID
		}
		if p.Arch != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
		}
		if p.Source != "" && p.Source != p.Name {
			key := "upstream"
			q = append(q, packageurl.Qualifier{Key: key, Value: p.Source})
		}
		if d != nil && d.ID != "" {
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d.ID + "-" + d.VersionID})
		}
	case Go:
		typ = packageurl.TypeGolang
		if i := strings.LastIndex(name, "/"); i >= 0 {
			ns, name = name[:i], name[i+1:]
		}
	case PyPI:
		typ = packageurl.TypePyPi
		name = strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name))
	case Npm:
		typ = packageurl.TypeNPM
		if strings.HasPrefix(name, "@") {
			if i := strings.Index(name, "/"); i >= 0 {
				ns, name = name[:i], name[i+1:]
			}
		}
	}
	return packageurl.NewPackageURL(typ, ns, name, p.Version, q, "").ToString()
}
