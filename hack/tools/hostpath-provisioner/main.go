// Command hostpath-provisioner provisions PersistentVolumes as directories on the single node of the
// flalliance development cluster (hack/cluster-up.sh runs it on the host, next to the kubelet).
//
// Why not the in-tree kube-controller-manager --enable-hostpath-provisioner: it creates root-owned 0750
// directories under /tmp, which the project's non-root pods cannot write. This one creates 0777
// directories under the cluster's own state folder, pins each PV to the node (nodeAffinity) and removes the
// directory when a PV with reclaim policy Delete is released. Leader election is off: one node, one copy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

type hostPathProvisioner struct {
	root string // every volume is a directory directly below root
	node string // the node the volumes live on
}

func (p *hostPathProvisioner) Provision(_ context.Context, o controller.ProvisionOptions) (*v1.PersistentVolume, controller.ProvisioningState, error) {
	if o.PVC.Spec.VolumeMode != nil && *o.PVC.Spec.VolumeMode == v1.PersistentVolumeBlock {
		return nil, controller.ProvisioningFinished, errors.New("spec.volumeMode: Block is not supported by the host-path provisioner")
	}
	if o.SelectedNodeName != "" && o.SelectedNodeName != p.node {
		return nil, controller.ProvisioningFinished, fmt.Errorf("selected node %q is not this provisioner's node %q", o.SelectedNodeName, p.node)
	}
	dir := filepath.Join(p.root, o.PVName)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, controller.ProvisioningFinished, fmt.Errorf("create %s: %w", dir, err)
	}
	// MkdirAll is subject to the umask; pods run as arbitrary non-root users and must be able to write.
	if err := os.Chmod(dir, 0o777); err != nil {
		return nil, controller.ProvisioningFinished, fmt.Errorf("chmod %s: %w", dir, err)
	}
	reclaim := v1.PersistentVolumeReclaimDelete
	if o.StorageClass.ReclaimPolicy != nil {
		reclaim = *o.StorageClass.ReclaimPolicy
	}
	modes := o.PVC.Spec.AccessModes
	if len(modes) == 0 {
		modes = []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce}
	}
	size, ok := o.PVC.Spec.Resources.Requests[v1.ResourceStorage]
	if !ok {
		size = resource.MustParse("1Gi")
	}
	hostPathType := v1.HostPathDirectory
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        o.PVName,
			Annotations: map[string]string{"flalliance.dev/provisioned-on": p.node},
		},
		Spec: v1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: reclaim,
			AccessModes:                   modes,
			Capacity:                      v1.ResourceList{v1.ResourceStorage: size},
			VolumeMode:                    o.PVC.Spec.VolumeMode,
			MountOptions:                  o.StorageClass.MountOptions,
			PersistentVolumeSource: v1.PersistentVolumeSource{
				HostPath: &v1.HostPathVolumeSource{Path: dir, Type: &hostPathType},
			},
			NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{
					Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{p.node},
				}},
			}}}},
		},
	}
	return pv, controller.ProvisioningFinished, nil
}

func (p *hostPathProvisioner) Delete(_ context.Context, pv *v1.PersistentVolume) error {
	if pv.Spec.HostPath == nil {
		return &controller.IgnoredError{Reason: "not a host-path volume"}
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	// Only ever remove a direct child of our own root: a PV edited to point elsewhere is left alone.
	if filepath.Dir(dir) != filepath.Clean(p.root) || strings.HasPrefix(filepath.Base(dir), ".") {
		return &controller.IgnoredError{Reason: fmt.Sprintf("path %s is not under %s", dir, p.root)}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	root := flag.String("root", "", "directory holding one sub-directory per volume")
	node := flag.String("node-name", "", "name of the node the volumes live on")
	name := flag.String("provisioner-name", "flalliance.dev/hostpath", "provisioner name StorageClasses refer to")
	klog.InitFlags(nil)
	flag.Parse()
	if *kubeconfig == "" || *root == "" || *node == "" {
		klog.Exit("--kubeconfig, --root and --node-name are required")
	}
	if err := os.MkdirAll(*root, 0o755); err != nil {
		klog.Exitf("create --root %s: %v", *root, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Exitf("load --kubeconfig %s: %v", *kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		klog.Exitf("client: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	pc := controller.NewProvisionController(ctx, client, *name, &hostPathProvisioner{root: *root, node: *node},
		controller.LeaderElection(false))
	klog.Infof("provisioning %s volumes for node %s under %s", *name, *node, *root)
	pc.Run(ctx)
}
