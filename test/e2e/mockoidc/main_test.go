package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// The teams steps of the end-to-end run sign in several people by minted tokens: each must carry the
// e-mail and groups asked for, verify against the provider's published key, and a token signed by
// another key must not.
func newProvider(t *testing.T) (*mockoidc.MockOIDC, *mockoidc.MockUser) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mockoidc.NewServer(key)
	if err != nil {
		t.Fatal(err)
	}
	m.ClientID = "mlflow-dev"
	user := &mockoidc.MockUser{Subject: "e2e-jane", Email: "jane.doe@example.com", Groups: []string{"engineering", "design"}}
	return m, user
}

func mintToken(t *testing.T, m *mockoidc.MockOIDC, user *mockoidc.MockUser, form url.Values) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/e2e/mint", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mint(m, user, rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("mint answered %d: %s", rec.Code, rec.Body.String())
	}
	var body struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	return body.IDToken
}

// verify checks the signature against the provider's published key, as the proxy does.
func verify(m *mockoidc.MockOIDC, token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return m.Keypair.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(m.ClientID))
	return claims, err
}

func TestMintsATokenForAChosenPersonWithEmailAndGroups(t *testing.T) {
	m, user := newProvider(t)
	token := mintToken(t, m, user, url.Values{"email": {"ada.a@example.com"}, "sub": {"e2e-ada"}, "groups": {"team-a-ds,ml-release"}})
	claims, err := verify(m, token)
	if err != nil {
		t.Fatalf("a minted token does not verify against the published key: %v", err)
	}
	if claims["email"] != "ada.a@example.com" || claims["sub"] != "e2e-ada" {
		t.Fatalf("claims: %v", claims)
	}
	groups, _ := claims["groups"].([]any)
	if len(groups) != 2 || groups[0] != "team-a-ds" || groups[1] != "ml-release" {
		t.Fatalf("groups claim: %v", claims["groups"])
	}
}

func TestOmitsTheGroupsClaimWhenAsked(t *testing.T) {
	m, user := newProvider(t)
	claims, err := verify(m, mintToken(t, m, user, url.Values{"email": {"x@example.com"}, "omit": {"groups"}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["groups"]; ok {
		t.Fatalf("groups claim still present: %v", claims)
	}
}

func TestATokenSignedByAnotherKeyDoesNotVerify(t *testing.T) {
	m, user := newProvider(t)
	token := mintToken(t, m, user, url.Values{"key": {"other"}, "email": {"ada.a@example.com"}, "groups": {"platform-admins"}})
	if _, err := verify(m, token); err == nil {
		t.Fatal("a token signed by another key verified against the published key")
	}
	// It carries the published key's id: only the signature tells it apart.
	header, _, _ := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	kid, _ := m.Keypair.KeyID()
	if header.Header["kid"] != kid {
		t.Fatalf("kid %v, want the published %s", header.Header["kid"], kid)
	}
}
