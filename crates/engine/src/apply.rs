//! Applying manifests: resource mapping, server-side apply, three-way merge, deletion.
