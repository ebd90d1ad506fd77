-- Version 4: a layer version's resource-based policy (AddLayerVersionPermission),
-- NULL while it has none; it goes with its version's row.
ALTER TABLE layer_versions ADD COLUMN policy TEXT;
