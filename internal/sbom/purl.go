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
	case RPM:
		// syft's form: the version without its epoch, which is a
		// qualifier, and the source rpm's file name as upstream.
		typ, ns = packageurl.TypeRPM, ""
		epoch, v, ok := strings.Cut(p.Version, ":")
		if !ok {
			epoch, v = "", p.Version
		}
		if d != nil && d.ID != "" {
			ns = d.ID
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d.ID + "-" + d.VersionID})
		}
		if p.Arch != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
		}
		if epoch != "" {
			q = append(q, packageurl.Qualifier{Key: "epoch", Value: epoch})
		}
		if p.Source != "" {
			_, sv, ok := strings.Cut(p.SourceVersion, ":")
			if !ok {
				sv = p.SourceVersion
			}
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: p.Source + "-" + sv + ".src.rpm"})
		}
		return packageurl.NewPackageURL(typ, ns, name, v, q, "").ToString()
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
