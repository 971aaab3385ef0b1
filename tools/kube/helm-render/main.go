// Command helm-render renders a local Helm chart with Helm itself (helm.sh/helm/v3 as a library, the
// same code path as `helm template`), and converts YAML files to JSON. It prints JSON on stdout so the
// TypeScript Kubernetes API check needs no YAML parser of its own.
//
//	helm-render chart  --chart DIR --name RELEASE --namespace NS --kube-version v1.34.4 [--values FILE]...
//	    prints a JSON array of the rendered objects (CRDs of the chart's crds/ folder included).
//	helm-render yaml FILE...
//	    prints a JSON array of every document of every FILE (empty documents skipped).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: helm-render chart|yaml ..."))
	}
	var (
		out []json.RawMessage
		err error
	)
	switch os.Args[1] {
	case "chart":
		out, err = renderChart(os.Args[2:])
	case "yaml":
		out, err = yamlFiles(os.Args[2:])
	default:
		err = fmt.Errorf("unknown sub-command %q (chart or yaml)", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "helm-render:", err)
	os.Exit(1)
}

func renderChart(args []string) ([]json.RawMessage, error) {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	chartDir := fs.String("chart", "", "chart directory")
	name := fs.String("name", "release", "release name")
	namespace := fs.String("namespace", "default", "release namespace")
	kubeVersion := fs.String("kube-version", "v1.34.0", "Kubernetes version the chart is rendered for")
	var valueFiles multi
	fs.Var(&valueFiles, "values", "values file (YAML or JSON); repeatable, later files win like helm_release's values list")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	chrt, err := loader.Load(*chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", *chartDir, err)
	}
	vals := map[string]interface{}{}
	for _, f := range valueFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		cur := map[string]interface{}{}
		if err := yaml.Unmarshal(b, &cur); err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		vals = chartutil.MergeTables(cur, vals)
	}
	kv, err := chartutil.ParseKubeVersion(*kubeVersion)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = *name
	install.Namespace = *namespace
	install.KubeVersion = kv
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", *chartDir, err)
	}
	var out []json.RawMessage
	manifests := releaseutil.SplitManifests(rel.Manifest)
	for _, key := range sortedKeys(manifests) {
		docs, err := docsToJSON([]byte(manifests[key]))
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	// SplitManifests names documents manifest-0, manifest-1, ...: keep their order.
	keys := make([]string, 0, len(m))
	for i := 0; i < len(m); i++ {
		k := fmt.Sprintf("manifest-%d", i)
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func yamlFiles(files []string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := docsToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, docs...)
	}
	return out, nil
}

// docsToJSON splits a multi-document YAML stream and converts each non-empty document to JSON.
func docsToJSON(b []byte) ([]json.RawMessage, error) {
	var out []json.RawMessage
	dec := yamlDocs(b)
	for {
		doc, err := dec()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if string(j) == "null" {
			continue
		}
		out = append(out, j)
	}
}

// yamlDocs returns an iterator over the documents of a YAML stream separated by "---" lines.
func yamlDocs(b []byte) func() ([]byte, error) {
	lines := strings.Split(string(b), "\n")
	i := 0
	return func() ([]byte, error) {
		if i >= len(lines) {
			return nil, io.EOF
		}
		var buf strings.Builder
		for ; i < len(lines); i++ {
			l := lines[i]
			if strings.HasPrefix(l, "---") && strings.TrimSpace(strings.TrimLeft(l, "-")) == "" {
				i++
				return []byte(buf.String()), nil
			}
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		return []byte(buf.String()), nil
	}
}
