// Command k8s-validate checks Kubernetes manifests offline, without a cluster: every YAML
// document is decoded strictly into the k8s.io/api type its apiVersion and kind name, so unknown
// fields, duplicate fields and values of the wrong type are errors (what `kubectl apply
// --validate=strict` reports), and kinds outside core/v1, apps/v1, autoscaling/v2 and policy/v1
// are refused.
//
//	k8s-validate FILE...
//
// Prints one line per document; exits 1 when any document is invalid, 2 on a usage error.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate FILE...")
		os.Exit(2)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	failed := false
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Printf("%s: %v\n", file, err)
			failed = true
			continue
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for n := 1; ; n++ {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fmt.Printf("%s: document %d: %v\n", file, n, err)
				failed = true
				break
			}
			if isEmpty(doc) {
				continue
			}
			_, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				fmt.Printf("%s: document %d: INVALID: %v\n", file, n, err)
				failed = true
				continue
			}
			fmt.Printf("%s: document %d: %s %s: ok\n", file, n, gvk.GroupVersion().String(), gvk.Kind)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// isEmpty reports whether a YAML document holds only comments and blank lines.
func isEmpty(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			return false
		}
	}
	return true
}
