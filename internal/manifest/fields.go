package manifest

// What minikubelet does with every field of a pod's spec, as a list an
// operator can read and a test keeps true (fields_test.go): each field is
// honoured, and names a test that shows it, or refused by validation, and
// names the reason validation gives. A field in neither list (one a newer
// k8s.io/api adds) fails that test until it is sorted in, so nothing is
// ever accepted and silently ignored.
//
// A handful of fields are honoured by doing what a kubelet on a lone node
// does with them: nothing on the node, because a scheduler or a cluster
// acts on them (nodeSelector, tolerations, priority...). Refusing them
// would stop the same manifest from running on a cluster; they are
// accepted and kept in the pod as the status API shows it
// (TestInertFieldsAccepted).

import (
	"cmp"
	"reflect"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// walkedTypes are the pod spec's structs whose fields are listed one by
// one in honouredFields or refusedFields; a field of any other type is
// listed as a whole. A walked type is walked where it first appears (in
// field order) and listed as a whole where it appears again: init
// containers share the containers' fields (and their checks), readiness
// and startup probes the liveness probe's, preStop postStart's.
var walkedTypes = map[reflect.Type]bool{}

func init() {
	for _, v := range []any{
		v1.PodSpec{}, v1.Container{}, v1.PodSecurityContext{}, v1.SecurityContext{},
		v1.Volume{}, v1.VolumeSource{}, v1.EmptyDirVolumeSource{}, v1.HostPathVolumeSource{},
		v1.DownwardAPIVolumeSource{}, v1.ProjectedVolumeSource{}, v1.VolumeProjection{},
		v1.Probe{}, v1.ProbeHandler{}, v1.HTTPGetAction{}, v1.TCPSocketAction{}, v1.GRPCAction{}, v1.ExecAction{},
		v1.Lifecycle{}, v1.LifecycleHandler{},
	} {
		walkedTypes[reflect.TypeOf(v)] = true
	}
}

// specFields returns the JSON paths of every field of v1.PodSpec, walked
// as walkedTypes says, in field order.
func specFields() []string {
	var out []string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		seen[t] = true
		for _, f := range fieldOrder(t) {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			ft, suffix := f.Type, ""
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				if ft.Kind() == reflect.Slice {
					suffix = "[]"
				}
				ft = ft.Elem()
			}
			if f.Anonymous && strings.Contains(opts, "inline") || name == "" {
				walk(ft, prefix)
				continue
			}
			p := prefix + "." + name + suffix
			if ft.Kind() == reflect.Struct && walkedTypes[ft] && !seen[ft] {
				walk(ft, p)
				continue
			}
			out = append(out, strings.TrimSuffix(p, "[]"))
		}
	}
	walk(reflect.TypeOf(v1.PodSpec{}), "spec")
	return out
}

// fieldOrder is t's fields in declaration order, except that a PodSpec's
// containers come before its init containers: the Container fields are
// listed under spec.containers[].
func fieldOrder(t reflect.Type) []reflect.StructField {
	fields := make([]reflect.StructField, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		fields = append(fields, t.Field(i))
	}
	if t == reflect.TypeOf(v1.PodSpec{}) {
		first := func(f reflect.StructField) int {
			if f.Name == "Containers" {
				return 0
			}
			return 1
		}
		slices.SortStableFunc(fields, func(a, b reflect.StructField) int { return cmp.Compare(first(a), first(b)) })
	}
	return fields
}

// honouredFields maps each field minikubelet acts on to a test that shows
// it doing so.
var honouredFields = map[string]string{
	"spec.volumes[].name":                                           "TestVolumeEmptyDir",
	"spec.volumes[].hostPath.path":                                  "TestVolumeHostPath",
	"spec.volumes[].hostPath.type":                                  "TestVolumeHostPathTypeChecks",
	"spec.volumes[].emptyDir.medium":                                "TestSetupFSGroupAndMemory",
	"spec.volumes[].emptyDir.sizeLimit":                             "TestEmptyDirSizeLimitEviction",
	"spec.volumes[].downwardAPI.items":                              "TestSetupDiskAndDownwardAPI",
	"spec.volumes[].downwardAPI.defaultMode":                        "TestSetupDiskAndDownwardAPI",
	"spec.volumes[].projected.sources[].downwardAPI":                "TestSetupDiskAndDownwardAPI",
	"spec.volumes[].projected.defaultMode":                          "TestSetupDiskAndDownwardAPI",
	"spec.containers[].name":                                        "TestPodStartsAndReportsReady",
	"spec.containers[].image":                                       "TestPodStartsAndReportsReady",
	"spec.containers[].command":                                     "TestArgs",
	"spec.containers[].args":                                        "TestArgs",
	"spec.containers[].workingDir":                                  "TestWorkingDir",
	"spec.containers[].ports":                                       "TestPortMappings",
	"spec.containers[].env":                                         "TestEnv",
	"spec.containers[].resources":                                   "TestResourcesInCgroups",
	"spec.containers[].restartPolicy":                               "TestSidecarRunsBesideApp",
	"spec.containers[].volumeMounts":                                "TestVolumeMounts",
	"spec.containers[].livenessProbe.exec.command":                  "TestLivenessFailureRestartsContainer",
	"spec.containers[].livenessProbe.httpGet.path":                  "TestURL",
	"spec.containers[].livenessProbe.httpGet.port":                  "TestResolvePort",
	"spec.containers[].livenessProbe.httpGet.host":                  "TestRoute",
	"spec.containers[].livenessProbe.httpGet.scheme":                "TestRunHTTP",
	"spec.containers[].livenessProbe.httpGet.httpHeaders":           "TestRunHTTPHeaders",
	"spec.containers[].livenessProbe.tcpSocket.port":                "TestRunTCP",
	"spec.containers[].livenessProbe.tcpSocket.host":                "TestRoute",
	"spec.containers[].livenessProbe.grpc.port":                     "TestRunGRPC",
	"spec.containers[].livenessProbe.grpc.service":                  "TestRunGRPC",
	"spec.containers[].livenessProbe.initialDelaySeconds":           "TestDoProbeInitialDelay",
	"spec.containers[].livenessProbe.timeoutSeconds":                "TestRunHTTPTimeout",
	"spec.containers[].livenessProbe.periodSeconds":                 "TestParamsDefaults",
	"spec.containers[].livenessProbe.successThreshold":              "TestDoProbeThresholds",
	"spec.containers[].livenessProbe.failureThreshold":              "TestDoProbeThresholds",
	"spec.containers[].livenessProbe.terminationGracePeriodSeconds": "TestDoProbeUpdateAndReports",
	"spec.containers[].readinessProbe":                              "TestReadinessDrivesReady",
	"spec.containers[].startupProbe":                                "TestDoProbeStartupGates",
	"spec.containers[].lifecycle.postStart.exec":                    "TestExecHook",
	"spec.containers[].lifecycle.postStart.httpGet":                 "TestHTTPHook",
	"spec.containers[].lifecycle.postStart.sleep":                   "TestSleepHookFollowsClockAndContext",
	"spec.containers[].lifecycle.preStop":                           "TestPreStopRunsBeforeTheStopSignal",
	"spec.containers[].terminationMessagePath":                      "TestTerminationMessages",
	"spec.containers[].terminationMessagePolicy":                    "TestTerminationMessages",
	"spec.containers[].imagePullPolicy":                             "TestImageNeverPull",
	"spec.containers[].securityContext.capabilities":                "TestCapabilities",
	"spec.containers[].securityContext.privileged":                  "TestPrivileged",
	"spec.containers[].securityContext.runAsUser":                   "TestSecurityRunAsUser",
	"spec.containers[].securityContext.runAsGroup":                  "TestProcessUser",
	"spec.containers[].securityContext.runAsNonRoot":                "TestSecurityRunAsNonRoot",
	"spec.containers[].securityContext.readOnlyRootFilesystem":      "TestSecurityReadOnlyRootFilesystem",
	"spec.containers[].securityContext.allowPrivilegeEscalation":    "TestRootAndPrivilegeEscalation",
	// Default only; Unmasked is refused.
	"spec.containers[].securityContext.procMount":      "TestValidateSecurityAndMounts",
	"spec.containers[].securityContext.seccompProfile": "TestSeccomp",
	// Unconfined only (no profile is loaded); RuntimeDefault and Localhost
	// are refused.
	"spec.containers[].securityContext.appArmorProfile": "TestValidateSecurityAndMounts",
	"spec.initContainers":                               "TestInitContainersRunInOrder",
	"spec.restartPolicy":                                "TestTerminalPhases",
	"spec.terminationGracePeriodSeconds":                "TestTerminationGracePeriodIgnoredSIGTERM",
	"spec.activeDeadlineSeconds":                        "TestActiveDeadlineFailsThePod",
	"spec.dnsPolicy":                                    "TestNetworkPods",
	"spec.dnsConfig":                                    "TestNetworkPods",
	"spec.hostAliases":                                  "TestNetworkPods",
	"spec.hostname":                                     "TestNetworkPods",
	"spec.hostNetwork":                                  "TestNetworkPods",
	"spec.hostPID":                                      "TestContainerNamespaces",
	"spec.hostIPC":                                      "TestContainerNamespaces",
	"spec.shareProcessNamespace":                        "TestShareProcessNamespace",
	// "default" (or empty) only: no tokens are minted.
	"spec.serviceAccountName": "TestValidate",
	"spec.serviceAccount":     "TestValidate",
	// Overwritten with the node's name, as the kubelet does for static pods.
	"spec.nodeName":                                 "TestDefaults",
	"spec.securityContext.runAsUser":                "TestSecurityRunAsUser",
	"spec.securityContext.runAsGroup":               "TestProcessUser",
	"spec.securityContext.runAsNonRoot":             "TestSecurityRunAsNonRoot",
	"spec.securityContext.supplementalGroups":       "TestProcessUser",
	"spec.securityContext.supplementalGroupsPolicy": "TestProcessUserImageFiles",
	"spec.securityContext.fsGroup":                  "TestSetupFSGroupAndMemory",
	// Volumes are made fresh and given to fsGroup once, which both
	// policies come to.
	"spec.securityContext.fsGroupChangePolicy": "TestSetupFSGroupAndMemory",
	"spec.securityContext.sysctls":             "TestSysctlsAndDeadline",
	"spec.securityContext.seccompProfile":      "TestSeccomp",
	"spec.securityContext.appArmorProfile":     "TestValidateSecurityAndMounts",
	// linux only.
	"spec.os": "TestValidate",
	// What a scheduler or cluster acts on: accepted, shown, no effect on
	// the node (as on a kubelet's static pods).
	"spec.nodeSelector":              "TestInertFieldsAccepted",
	"spec.affinity":                  "TestInertFieldsAccepted",
	"spec.schedulerName":             "TestInertFieldsAccepted",
	"spec.tolerations":               "TestInertFieldsAccepted",
	"spec.priorityClassName":         "TestInertFieldsAccepted",
	"spec.priority":                  "TestInertFieldsAccepted",
	"spec.preemptionPolicy":          "TestInertFieldsAccepted",
	"spec.topologySpreadConstraints": "TestInertFieldsAccepted",
	// The FQDN needs a cluster domain (none here, as on a kubelet without
	// clusterDomain); service links need services (none either way).
	"spec.subdomain":          "TestInertFieldsAccepted",
	"spec.enableServiceLinks": "TestInertFieldsAccepted",
}

// refusal is why validation refuses a field, and the JSON value that
// sets it in a test ("" derives one from the field's type).
type refusal struct {
	reason, example string
}

const (
	unsupportedVolume = "is not supported by minikubelet"
	apiServerVolume   = "ConfigMaps and Secrets are read from an API server"
)

// refusedFields maps each field validation refuses to (part of) the reason
// it gives.
var refusedFields = map[string]refusal{
	"spec.volumes[].emptyDir.mode":                           {"an emptyDir is always mode 0777", ""},
	"spec.volumes[].downwardAPI.defaultUser":                 {"the volume's files belong to root", ""},
	"spec.volumes[].projected.defaultUser":                   {"the volume's files belong to root", ""},
	"spec.volumes[].projected.sources[].secret":              {"Secrets are read from an API server", ""},
	"spec.volumes[].projected.sources[].configMap":           {"ConfigMaps are read from an API server", ""},
	"spec.volumes[].projected.sources[].serviceAccountToken": {"to mint service account tokens", ""},
	"spec.volumes[].projected.sources[].clusterTrustBundle":  {"ClusterTrustBundles are read from an API server", ""},
	"spec.volumes[].projected.sources[].podCertificate":      {"pod certificates are issued through an API server", ""},
	"spec.volumes[].secret":                                  {apiServerVolume, ""},
	"spec.volumes[].configMap":                               {apiServerVolume, ""},
	"spec.volumes[].persistentVolumeClaim":                   {"persistent volume claims are bound by an API server", ""},
	"spec.volumes[].ephemeral":                               {"persistent volume claims are bound by an API server", ""},
	"spec.volumes[].gcePersistentDisk":                       {unsupportedVolume, ""},
	"spec.volumes[].awsElasticBlockStore":                    {unsupportedVolume, ""},
	"spec.volumes[].gitRepo":                                 {unsupportedVolume, ""},
	"spec.volumes[].nfs":                                     {unsupportedVolume, ""},
	"spec.volumes[].iscsi":                                   {unsupportedVolume, ""},
	"spec.volumes[].glusterfs":                               {unsupportedVolume, ""},
	"spec.volumes[].rbd":                                     {unsupportedVolume, ""},
	"spec.volumes[].flexVolume":                              {unsupportedVolume, ""},
	"spec.volumes[].cinder":                                  {unsupportedVolume, ""},
	"spec.volumes[].cephfs":                                  {unsupportedVolume, ""},
	"spec.volumes[].flocker":                                 {unsupportedVolume, ""},
	"spec.volumes[].fc":                                      {unsupportedVolume, ""},
	"spec.volumes[].azureFile":                               {unsupportedVolume, ""},
	"spec.volumes[].vsphereVolume":                           {unsupportedVolume, ""},
	"spec.volumes[].quobyte":                                 {unsupportedVolume, ""},
	"spec.volumes[].azureDisk":                               {unsupportedVolume, ""},
	"spec.volumes[].photonPersistentDisk":                    {unsupportedVolume, ""},
	"spec.volumes[].portworxVolume":                          {unsupportedVolume, ""},
	"spec.volumes[].scaleIO":                                 {unsupportedVolume, ""},
	"spec.volumes[].storageos":                               {unsupportedVolume, ""},
	"spec.volumes[].csi":                                     {unsupportedVolume, ""},
	"spec.volumes[].image":                                   {unsupportedVolume, ""},
	"spec.containers[].envFrom":                              {"envFrom reads ConfigMaps or Secrets from an API server", ""},
	"spec.containers[].resizePolicy":                         {"in-place resizes are requested through an API server", ""},
	"spec.containers[].restartPolicyRules":                   {"not supported by minikubelet; use spec.restartPolicy", ""},
	"spec.containers[].volumeDevices":                        {"block devices come from persistent volume claims", ""},
	"spec.containers[].livenessProbe.httpGet.protocol":       {"the HTTP protocol of probes and hooks is not selectable", ""},
	"spec.containers[].livenessProbe.grpc.mode":              {"grpc probes use the standard health check", ""},
	"spec.containers[].lifecycle.postStart.tcpSocket":        {"not supported as a lifecycle handler", `{"port": 80}`},
	"spec.containers[].lifecycle.stopSignal":                 {"containers stop with their image's STOPSIGNAL", `"SIGUSR1"`},
	"spec.containers[].securityContext.seLinuxOptions":       {"minikubelet sets no SELinux labels", ""},
	"spec.containers[].securityContext.windowsOptions":       {"minikubelet runs Linux containers only", ""},
	"spec.containers[].stdin":                                {"no stdin and no terminal", ""},
	"spec.containers[].stdinOnce":                            {"no stdin and no terminal", ""},
	"spec.containers[].tty":                                  {"no stdin and no terminal", ""},
	"spec.ephemeralContainers":                               {"ephemeral containers are added through an API server", ""},
	"spec.automountServiceAccountToken":                      {"to mint service account tokens", ""},
	"spec.securityContext.seLinuxOptions":                    {"minikubelet sets no SELinux labels", ""},
	"spec.securityContext.windowsOptions":                    {"minikubelet runs Linux containers only", ""},
	"spec.securityContext.seLinuxChangePolicy":               {"minikubelet sets no SELinux labels", `"MountOption"`},
	"spec.imagePullSecrets":                                  {"pull secrets are Secrets read from an API server", ""},
	"spec.readinessGates":                                    {"readiness gate conditions are set through an API server", ""},
	"spec.runtimeClassName":                                  {"minikubelet runs every container with runc", ""},
	"spec.overhead":                                          {"the overhead is set by an API server", `{"cpu": "1"}`},
	"spec.setHostnameAsFQDN":                                 {"no cluster domain", ""},
	"spec.hostUsers":                                         {"not supported yet: user namespaces", "false"},
	"spec.schedulingGates":                                   {"scheduling gates are removed through an API server", ""},
	"spec.resourceClaims":                                    {"resource claims are allocated through an API server", ""},
	"spec.resources":                                         {"not supported yet: pod-level resources", ""},
	"spec.hostnameOverride":                                  {"use spec.hostname instead", ""},
	"spec.schedulingGroup":                                   {"scheduling groups are scheduled together through an API server", ""},
	"spec.evictionResponders":                                {"eviction responders are called through an API server", ""},
}
