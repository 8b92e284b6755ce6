package kubeapi

import (
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	mkversion "github.com/minikubelet/minikubelet/internal/version"
)

// resource is one served resource, for both discovery forms.
type resource struct {
	name, singular, kind string
	namespaced           bool
	shortNames           []string
	verbs                []string
}

// served lists what this node serves in core v1. A resource joins it only
// together with its routes.
var served = []resource{
	{name: "events", singular: "event", kind: "Event", namespaced: true, shortNames: []string{"ev"}, verbs: []string{"get", "list"}},
	{name: "namespaces", singular: "namespace", kind: "Namespace", shortNames: []string{"ns"}, verbs: []string{"get", "list"}},
	{name: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: []string{"po"}, verbs: []string{"get", "list"}},
}

// aggregatedV2 is the media type of aggregated discovery, which kubectl
// asks for first.
const aggregatedV2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		p := strings.ReplaceAll(part, " ", "")
		if strings.Contains(p, "g=apidiscovery.k8s.io") && strings.Contains(p, "v=v2;") || strings.HasSuffix(p, "g=apidiscovery.k8s.io;v=v2") ||
			strings.Contains(p, "g=apidiscovery.k8s.io") && strings.Contains(p, ";v=v2") && strings.Contains(p, "as=APIGroupDiscoveryList") {
			return true
		}
	}
	return false
}

func (a *API) apiVersions(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		var res []apidiscoveryv2.APIResourceDiscovery
		for _, s := range served {
			scope := apidiscoveryv2.ScopeCluster
			if s.namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			res = append(res, apidiscoveryv2.APIResourceDiscovery{
				Resource: s.name, SingularResource: s.singular, Scope: scope,
				ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: s.kind},
				ShortNames:   s.shortNames, Verbs: s.verbs,
			})
		}
		writeJSONAs(w, http.StatusOK, aggregatedV2, apidiscoveryv2.APIGroupDiscoveryList{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
			Items: []apidiscoveryv2.APIGroupDiscovery{{
				Versions: []apidiscoveryv2.APIVersionDiscovery{{
					Version: "v1", Resources: res, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
				}},
			}},
		})
		return
	}
	writeJSON(w, http.StatusOK, metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	})
}

func (a *API) apiGroups(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		writeJSONAs(w, http.StatusOK, aggregatedV2, apidiscoveryv2.APIGroupDiscoveryList{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
			Items:    []apidiscoveryv2.APIGroupDiscovery{},
		})
		return
	}
	writeJSON(w, http.StatusOK, metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{},
	})
}

func (a *API) resources(w http.ResponseWriter, _ *http.Request) {
	list := metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: "v1",
	}
	for _, s := range served {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: s.name, SingularName: s.singular, Namespaced: s.namespaced, Kind: s.kind,
			Verbs: s.verbs, ShortNames: s.shortNames,
		})
	}
	writeJSON(w, http.StatusOK, list)
}

// version answers /version: the Kubernetes release whose kubelet this
// daemon follows, and this daemon's own version as the commit.
func (a *API) version(w http.ResponseWriter, _ *http.Request) {
	kv := strings.TrimPrefix(mkversion.KubeletVersion, "v")
	major, minor, _ := strings.Cut(kv, ".")
	writeJSON(w, http.StatusOK, version.Info{
		Major: major, Minor: minor, GitVersion: mkversion.KubeletVersion + ".0",
		GitCommit: mkversion.Version, Platform: "linux",
	})
}
