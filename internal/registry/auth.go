package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Keychain reads credentials where `docker login` and `strata login` write
// them: docker's config.json in config.Dir() ($DOCKER_CONFIG or ~/.docker),
// with its credential helpers. Without that file it falls back to
// go-containerregistry's default keychain (podman's auth.json).
//
// go-containerregistry's DefaultKeychain prefers ~/.docker/config.json over
// $DOCKER_CONFIG; docker itself prefers $DOCKER_CONFIG, and so must we, or
// `strata login` would write one file and pull read another.
func Keychain() authn.Keychain { return dockerKeychain{} }

// configDir is docker's config directory. docker/cli's config.Dir reads the
// environment once per process; this reads it on each call, so a test (or a
// long-lived caller) that changes DOCKER_CONFIG is obeyed.
func configDir() string {
	if d := os.Getenv(config.EnvOverrideConfigDir); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/"
	}
	return filepath.Join(home, ".docker")
}

type dockerKeychain struct{}

func (dockerKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	path := filepath.Join(configDir(), config.ConfigFileName)
	if _, err := os.Stat(path); err != nil {
		return authn.DefaultKeychain.Resolve(target)
	}
	cf, err := config.Load(configDir())
	if err != nil {
		return nil, err
	}
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, err
		}
		ac.ServerAddress = ""
		if ac != (types.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{
				Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// credentialKey is the config.json key docker uses for a registry.
func credentialKey(reg name.Registry) string {
	if reg.RegistryStr() == name.DefaultRegistry {
		return authn.DefaultAuthKey
	}
	return reg.RegistryStr()
}

// Login checks user/password against the registry and, when they work, saves
// them in docker's config.json (or its credential helper). It returns the
// file written.
func (c *Client) Login(ctx context.Context, host, user, password string) (string, error) {
	if host == "" || host == "docker.io" {
		host = name.DefaultRegistry
	}
	reg, err := c.Registry(host)
	if err != nil {
		return "", fmt.Errorf("invalid registry %q: %v", host, err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	// Ask for pull access to an arbitrary repository: a token server checks
	// the credentials when it issues the token; a basic-auth registry checks
	// them on GET /v2/.
	scope := reg.Repo("strata-login-check").Scope(transport.PullScope)
	tr, err := transport.NewWithContext(ctx, reg, auth, c.tr, []string{scope})
	if err != nil {
		return "", Explain(err, reg.RegistryStr())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", Explain(err, reg.RegistryStr())
	}
	err = transport.CheckError(resp, http.StatusOK) // reads the error body
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if err != nil {
		return "", Explain(err, reg.RegistryStr())
	}
	cf, err := config.Load(configDir())
	if err != nil {
		return "", err
	}
	key := credentialKey(reg)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{ServerAddress: key, Username: user, Password: password}); err != nil {
		return "", fmt.Errorf("saving credentials: %w", err)
	}
	return cf.Filename, nil
}

// StoredLogin is the user name and password saved for host by an earlier
// login (docker's config.json or its credential helper); ok is false when
// there are none.
func (c *Client) StoredLogin(host string) (user, password string, ok bool, err error) {
	if host == "" || host == "docker.io" {
		host = name.DefaultRegistry
	}
	reg, err := c.Registry(host)
	if err != nil {
		return "", "", false, fmt.Errorf("invalid registry %q: %v", host, err)
	}
	cf, err := config.Load(configDir())
	if err != nil {
		return "", "", false, err
	}
	ac, err := cf.GetAuthConfig(credentialKey(reg))
	if err != nil {
		return "", "", false, err
	}
	return ac.Username, ac.Password, ac.Username != "" && ac.Password != "", nil
}

// ErrNotLoggedIn is returned by Logout when there was nothing to remove.
var ErrNotLoggedIn = errors.New("not logged in")

// Logout removes the saved credentials of a registry.
func (c *Client) Logout(host string) error {
	if host == "" || host == "docker.io" {
		host = name.DefaultRegistry
	}
	reg, err := c.Registry(host)
	if err != nil {
		return fmt.Errorf("invalid registry %q: %v", host, err)
	}
	cf, err := config.Load(configDir())
	if err != nil {
		return err
	}
	key := credentialKey(reg)
	if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
		return ErrNotLoggedIn
	}
	return cf.GetCredentialsStore(key).Erase(key)
}
