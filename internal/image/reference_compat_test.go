package image

import (
	"testing"

	"github.com/distribution/reference"
)

// distributionParse is what ParseReference did when it called
// distribution/reference; the hand-written parser must agree with it.
func distributionParse(s string) (full, familiar, tag, dgst string, err error) {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", "", "", "", err
	}
	n = reference.TagNameOnly(n)
	if t, ok := n.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := n.(reference.Digested); ok {
		dgst = d.Digest().String()
	}
	return n.String(), reference.FamiliarString(n), tag, dgst, nil
}

func checkAgainstDistribution(t *testing.T, s string) {
	t.Helper()
	if s == "" {
		return
	}
	full, fam, tag, dgst, derr := distributionParse(s)
	_, err := parseNormalizedNamed(s)
	if (err != nil) != (derr != nil) {
		t.Fatalf("%q: err = %v, distribution/reference err = %v", s, err, derr)
	}
	if err != nil {
		if err.Error() != derr.Error() {
			t.Errorf("%q: err = %q, distribution/reference err = %q", s, err, derr)
		}
		return
	}
	r, _ := ParseReference(s)
	n, _ := reference.ParseNormalizedNamed(s)
	if r.String() != full || r.Familiar() != fam || r.Tag() != tag || r.Digest() != dgst ||
		r.Domain() != reference.Domain(n) || r.Path() != reference.Path(n) ||
		r.FamiliarRepository() != reference.FamiliarName(n) {
		t.Errorf("%q: got %q %q %q %q %q %q, distribution/reference %q %q %q %q %q %q", s,
			r.String(), r.Familiar(), r.Tag(), r.Digest(), r.Domain(), r.Path(),
			full, fam, tag, dgst, reference.Domain(n), reference.Path(n))
	}
}

var referenceCorpus = []string{
	"busybox", "busybox:latest", "library/busybox", "docker.io/busybox", "index.docker.io/busybox:1",
	"docker.io/library/busybox:1.36", "user/repo", "docker.io/user/repo:tag", "localhost/foo",
	"localhost:5000/busybox:latest", "127.0.0.1:5000/a/b/c:v1.0-rc_1", "[::1]:5000/foo", "[::1]/foo",
	"[fe80::1%eth0]/foo", "[]/foo", "example.com/foo", "Example.com/foo", "FOO/bar", "foo/BAR", "Foo",
	"foo:BAR", "foo:-bad", "foo:_ok", "foo:" + string(make([]byte, 0)), "foo:", "foo@", ":tag", "/foo", "foo/",
	"foo//bar", "foo/bar/", "a..b", "a.b", "a__b", "a___b", "a-b", "a--b", "a-", "-a", "a_", "_a",
	"foo.com:/bar", "foo.com:abc/bar", "foo.com:123/bar", "-foo.com/bar", "foo-.com/bar", "fo-o.com/bar",
	"foo@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"foo:tag@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"localhost:5000/foo@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"foo@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	"foo@sha256:e3b0c44298fc1c149afbf4c8996fb924",
	"foo@md5:e3b0c44298fc1c149afbf4c8996fb924",
	"foo@sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"foo@a+b.c_d-e:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"foo@1a:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"foo:a.b.c-d_e", "foo:" + longTag(128), "foo:" + longTag(129), "a/" + longTag(300),
	"foo bar", "foo\tbar", "foo:bar:baz", "foo@bar@baz", "localhost", "localhost:5000", "example.com",
	"docker.io/library/a/b", "docker.io/library/library/x", "library", "sub.example.com:1/ns/img:t",
	"0_0A0/0", "0_0.0/0", "my_reg.local/app:1", "My_reg.local/app",
}

func longTag(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestReferenceMatchesDistribution(t *testing.T) {
	for _, s := range referenceCorpus {
		checkAgainstDistribution(t, s)
	}
}

func FuzzReferenceMatchesDistribution(f *testing.F) {
	for _, s := range referenceCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkAgainstDistribution(t, s) })
}
