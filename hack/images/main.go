// Command images builds the container images that the chart and the node
// of the local stack (make test-node) run, without a registry or a
// container engine: each is one static binary (CGO_ENABLED=0) in a single
// layer on an empty base, written as a tarball that `ctr images import`
// and `docker load` read.
//
//	gitgate-apiserver.tar  the chart's image, under its repository and appVersion, as uid 65532
//	pause.tar              the pod sandbox (containerd's sandbox_image)
//	app.tar, proxy.tar     the example fleet's workload, under the names and tags its overlays use
//
// Usage: go run ./hack/images -out _output/images (from the repository root).
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

// image is one image to build.
type image struct {
	file       string   // tarball name under -out
	pkg        string   // Go package of the binary
	refs       []string // name:tag references the image is imported under
	entrypoint []string
	user       string
	env        []string
}

func main() {
	out := flag.String("out", filepath.Join("_output", "images"), "directory for the tarballs")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	chart, err := chartImage("charts/gitgate")
	if err != nil {
		return err
	}
	apps, proxies, err := fleetImages("artifacts/fleet/trunk/overlays")
	if err != nil {
		return err
	}
	images := []image{
		// As the Dockerfile describes it: non-root, nothing but the binary.
		{file: "gitgate-apiserver.tar", pkg: "./cmd/gitgate-apiserver", refs: []string{chart}, entrypoint: []string{"/gitgate-apiserver"}, user: "65532:65532"},
		{file: "pause.tar", pkg: "./hack/images/pause", refs: []string{localstack.PauseImage}, entrypoint: []string{"/pause"}, user: "65535:65535"},
		{file: "app.tar", pkg: "./hack/images/app", refs: apps, entrypoint: []string{"/app"}, user: "65532:65532"},
		// The sidecar shares the pod's network: another port.
		{file: "proxy.tar", pkg: "./hack/images/app", refs: proxies, entrypoint: []string{"/app", "-listen=:9090"}, user: "65532:65532"},
	}
	binDir := filepath.Join(out, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	for _, img := range images {
		binary := filepath.Join(binDir, filepath.Base(img.entrypoint[0]))
		if err := goBuild(ctx, img.pkg, binary); err != nil {
			return err
		}
		if err := write(filepath.Join(out, img.file), binary, img); err != nil {
			return fmt.Errorf("writing %s: %w", img.file, err)
		}
		fmt.Printf("%s: %s\n", filepath.Join(out, img.file), strings.Join(img.refs, " "))
	}
	return nil
}

// goBuild builds a static binary.
func goBuild(ctx context.Context, pkg, binary string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", binary, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// write makes a one-layer image of binary at /<its name> and writes it
// under every reference as a tarball.
func write(file, binary string, img image) error {
	layer, err := binaryLayer(binary, img.entrypoint[0])
	if err != nil {
		return err
	}
	i, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := i.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", goarch()
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()} // reproducible
	cfg.Config.Entrypoint = img.entrypoint
	cfg.Config.User = img.user
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = append([]string{"PATH=/"}, img.env...)
	i, err = mutate.ConfigFile(i, cfg)
	if err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for _, r := range img.refs {
		tag, err := name.NewTag(r, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("image reference %q: %w", r, err)
		}
		refs[tag] = i
	}
	return tarball.MultiRefWriteToFile(file, refs)
}

// binaryLayer is a layer holding only the binary, at path, executable by anyone.
func binaryLayer(binary, path string) (v1.Layer, error) {
	content, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(path, "/"), Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil })
}

func goarch() string {
	if a := os.Getenv("GOARCH"); a != "" {
		return a
	}
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return "amd64"
	}
	return strings.TrimSpace(string(out))
}

// chartImage is the image the chart runs by default: image.repository at
// the chart's appVersion.
func chartImage(chartDir string) (string, error) {
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	var values struct {
		Image struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"image"`
	}
	if err := readYAML(filepath.Join(chartDir, "Chart.yaml"), &chart); err != nil {
		return "", err
	}
	if err := readYAML(filepath.Join(chartDir, "values.yaml"), &values); err != nil {
		return "", err
	}
	tag := values.Image.Tag
	if tag == "" {
		tag = chart.AppVersion
	}
	if values.Image.Repository == "" || tag == "" {
		return "", fmt.Errorf("%s: no image.repository or appVersion", chartDir)
	}
	return values.Image.Repository + ":" + tag, nil
}

// fleetImages reads the app and proxy references every overlay of the
// example fleet sets (kustomize images: name app/proxy, newName, newTag).
func fleetImages(overlays string) (apps, proxies []string, err error) {
	dirs, err := os.ReadDir(overlays)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		var k struct {
			Images []struct {
				Name    string `json:"name"`
				NewName string `json:"newName"`
				NewTag  string `json:"newTag"`
			} `json:"images"`
		}
		if err := readYAML(filepath.Join(overlays, d.Name(), "kustomization.yaml"), &k); err != nil {
			return nil, nil, err
		}
		for _, i := range k.Images {
			ref := i.NewName + ":" + i.NewTag
			if seen[ref] {
				continue
			}
			seen[ref] = true
			switch i.Name {
			case "app":
				apps = append(apps, ref)
			case "proxy":
				proxies = append(proxies, ref)
			}
		}
	}
	if len(apps) == 0 || len(proxies) == 0 {
		return nil, nil, fmt.Errorf("%s: no app or proxy images in the overlays", overlays)
	}
	sort.Strings(apps)
	sort.Strings(proxies)
	return apps, proxies, nil
}

func readYAML(file string, into any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}
