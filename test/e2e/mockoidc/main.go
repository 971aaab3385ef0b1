// Command mockoidc serves github.com/oauth2-proxy/mockoidc on a loopback port for the end-to-end run:
// a real OpenID provider (discovery, JWKS, authorization code flow, RS256-signed ID tokens) for the
// real oauth2-proxy to verify tokens against.
//
// It signs with a fresh RSA key generated at start (never the library's published default key), reads
// the client secret from a file (never from its arguments), and prints one line
// `issuer=<url>` on stdout once it accepts connections.
//
// Besides the OpenID endpoints it serves POST /e2e/mint, which signs tokens the negative checks need
// and a normal provider would never issue: an expired one, one for another audience, and one signed by
// a key the provider does not publish (with the published key's id, so only the signature is wrong).
// It listens on loopback only and exists only in this test program.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	clientID := flag.String("client-id", "", "OIDC client id (the audience of the ID tokens)")
	secretFile := flag.String("client-secret-file", "", "file holding the OIDC client secret")
	email := flag.String("email", "jane.doe@example.com", "e-mail claim of the signed-in user")
	groups := flag.String("groups", "engineering,design", "comma-separated groups claim of the user")
	flag.Parse()

	if *clientID == "" || *secretFile == "" {
		log.Fatal("mockoidc: -client-id and -client-secret-file are required")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("mockoidc: -addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("mockoidc: -addr %q is not a loopback address", *addr)
	}
	secret, err := os.ReadFile(*secretFile)
	if err != nil {
		log.Fatalf("mockoidc: reading the client secret: %v", err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatalf("mockoidc: generating the signing key: %v", err)
	}
	m, err := mockoidc.NewServer(key)
	if err != nil {
		log.Fatalf("mockoidc: %v", err)
	}
	m.ClientID = *clientID
	m.ClientSecret = strings.TrimSpace(string(secret))
	m.AccessTTL = 30 * time.Minute
	user := &mockoidc.MockUser{
		Subject:           "e2e-" + strings.SplitN(*email, "@", 2)[0],
		Email:             *email,
		EmailVerified:     true,
		PreferredUsername: strings.SplitN(*email, "@", 2)[0],
		Groups:            strings.Split(*groups, ","),
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("mockoidc: listen %s: %v", *addr, err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc(mockoidc.AuthorizationEndpoint, func(w http.ResponseWriter, r *http.Request) {
		m.QueueUser(user) // every sign-in is this user
		m.Authorize(w, r)
	})
	mux.HandleFunc(mockoidc.TokenEndpoint, m.Token)
	mux.HandleFunc(mockoidc.UserinfoEndpoint, m.Userinfo)
	mux.HandleFunc(mockoidc.JWKSEndpoint, m.JWKS)
	mux.HandleFunc(mockoidc.DiscoveryEndpoint, m.Discovery)
	mux.HandleFunc("/e2e/mint", func(w http.ResponseWriter, r *http.Request) { mint(m, user, w, r) })
	// The library derives its issuer from Server.Addr; serve its handlers from our own mux.
	m.Server = &http.Server{Addr: ln.Addr().String(), Handler: logged(mux), ReadHeaderTimeout: 10 * time.Second}

	go func() {
		if err := m.Server.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Fatalf("mockoidc: %v", err)
		}
	}()
	fmt.Printf("issuer=%s\n", m.Issuer())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	_ = m.Shutdown()
}

// mint signs an ID token for the user with adjustable audience, lifetime and key.
// Form fields: aud (default: the client id), ttl (seconds, negative = already expired), key ("other" =
// a key nobody publishes, with the real key id in the header), email, sub, groups (comma-separated)
// for a second identity, and omit (comma-separated claims left out, e.g. "email,sub,preferred_username");
// email "-" mints a workload's token (a Kubernetes service-account token's shape: sub, no email, no
// groups, no preferred_username).
func mint(m *mockoidc.MockOIDC, user *mockoidc.MockUser, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	aud := r.Form.Get("aud")
	if aud == "" {
		aud = m.ClientID
	}
	ttl := 600
	if v := r.Form.Get("ttl"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			http.Error(w, "ttl: "+err.Error(), http.StatusBadRequest)
			return
		}
		ttl = n
	}
	now := m.Now()
	issued := now
	if ttl < 0 {
		issued = now.Add(time.Duration(ttl-600) * time.Second)
	}
	// A second identity (the registry's approver): email, sub and groups (comma-separated) override the user's.
	email, sub, groups := user.Email, user.Subject, user.Groups
	if v := r.Form.Get("email"); v != "" {
		email = v
	}
	if v := r.Form.Get("sub"); v != "" {
		sub = v
	}
	if v := r.Form.Get("groups"); v != "" {
		groups = strings.Split(v, ",")
	}
	claims := jwt.MapClaims{
		"iss":                m.Issuer(),
		"sub":                sub,
		"aud":                aud,
		"iat":                issued.Unix(),
		"nbf":                issued.Unix(),
		"exp":                now.Add(time.Duration(ttl) * time.Second).Unix(),
		"email":              email,
		"email_verified":     true,
		"preferred_username": strings.SplitN(email, "@", 2)[0],
		"groups":             groups,
	}
	if email == "-" {
		delete(claims, "email")
		delete(claims, "email_verified")
		delete(claims, "preferred_username")
		delete(claims, "groups")
	}
	// omit: comma-separated claims to leave out (e.g. "email,sub": a token that names nobody).
	for _, c := range strings.Split(r.Form.Get("omit"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			delete(claims, c)
		}
	}
	kp := m.Keypair
	if r.Form.Get("key") == "other" {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		kid, _ := m.Keypair.KeyID()
		kp = &mockoidc.Keypair{PrivateKey: other, PublicKey: &other.PublicKey, Kid: kid}
	}
	token, err := kp.SignJWT(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"id_token": token})
}

func logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.Path)
		next.ServeHTTP(w, r)
	})
}
