import { PostgresFlexibleStore, type PostgresFlexibleStoreProps } from "../../../constructs/postgres-flexible-store";
import { AZ, azureStack, expectPropError, nameOf, only, synthJsonOf } from "../../helpers/azure-construct-stack";

const key = (vault: string, name: string) => ({
  versionlessId: `https://${vault}.vault.azure.net/keys/${name}`,
  resourceVersionlessId: `/subscriptions/${AZ.subscriptionId}/resourceGroups/rg-mlflow-dev/providers/Microsoft.KeyVault/vaults/${vault}/keys/${name}`,
});
const BASE: PostgresFlexibleStoreProps = {
  serverName: "mlflow-dev-db",
  resourceGroupName: AZ.resourceGroupName,
  location: AZ.location,
  delegatedSubnetId: AZ.subnet("postgres"),
  virtualNetworkId: AZ.vnetId,
  key: key("kv-mlflow-dev", "database"),
  namespace: "mlflow",
};

function synth(props: Partial<PostgresFlexibleStoreProps> = {}) {
  const stack = azureStack();
  const store = new PostgresFlexibleStore(stack, "postgres_flexible_store", { ...BASE, ...props });
  return { json: synthJsonOf(stack), store };
}
const configs = (json: Record<string, any>) =>
  Object.fromEntries(
    Object.values(json.resource.azurerm_postgresql_flexible_server_configuration as Record<string, any>).map((c) => [c.name, c.value]),
  );

describe("PostgresFlexibleStore", () => {
  it("has private access only: the delegated subnet, its own private DNS zone linked to the VNet, no public endpoint", () => {
    const { json } = synth();
    const server = only(json, "azurerm_postgresql_flexible_server");
    expect(server).toMatchObject({ public_network_access_enabled: false, delegated_subnet_id: AZ.subnet("postgres") });
    expect(server.private_dns_zone_id).toBe(`\${azurerm_private_dns_zone.${nameOf(json, "azurerm_private_dns_zone")}.id}`);
    expect(only(json, "azurerm_private_dns_zone").name).toBe("mlflow-dev-db.private.postgres.database.azure.com");
    expect(only(json, "azurerm_private_dns_zone_virtual_network_link")).toMatchObject({
      virtual_network_id: AZ.vnetId,
      registration_enabled: false,
    });
    expect(server.depends_on).toContain(
      `azurerm_private_dns_zone_virtual_network_link.${nameOf(json, "azurerm_private_dns_zone_virtual_network_link")}`,
    );
  });

  it("is encrypted with the Key Vault key through its own identity, granted before the server exists", () => {
    const { json } = synth();
    const server = only(json, "azurerm_postgresql_flexible_server");
    const identity = `\${azurerm_user_assigned_identity.${nameOf(json, "azurerm_user_assigned_identity")}.id}`;
    expect(server.identity).toEqual({ type: "UserAssigned", identity_ids: [identity] });
    expect(server.customer_managed_key).toEqual({ key_vault_key_id: BASE.key.versionlessId, primary_user_assigned_identity_id: identity });
    expect(only(json, "azurerm_role_assignment")).toMatchObject({
      scope: BASE.key.resourceVersionlessId,
      role_definition_name: "Key Vault Crypto Service Encryption User",
    });
    expect(server.depends_on).toContain(`azurerm_role_assignment.${nameOf(json, "azurerm_role_assignment")}`);
  });

  it("requires TLS 1.2 or later, and logs connections and slow statements", () => {
    expect(configs(synth().json)).toEqual({
      require_secure_transport: "on",
      ssl_min_protocol_version: "TLSv1.2",
      log_min_duration_statement: "1000",
      log_connections: "on",
      log_disconnections: "on",
      log_checkpoints: "on",
    });
  });

  it("keeps backups, is maintained weekly, and has no HA unless asked", () => {
    const server = only(synth().json, "azurerm_postgresql_flexible_server");
    expect(server).toMatchObject({
      version: "17",
      sku_name: "GP_Standard_D2ds_v5",
      storage_mb: 32768,
      auto_grow_enabled: true,
      backup_retention_days: 7,
      geo_redundant_backup_enabled: false,
      maintenance_window: { day_of_week: 0, start_hour: 4, start_minute: 0 },
      authentication: { password_auth_enabled: true, active_directory_auth_enabled: false },
    });
    expect(server.high_availability).toBeUndefined();
    expect(server.lifecycle).toBeUndefined();
  });

  it("zone-redundant HA in another zone, which a failover may swap", () => {
    const server = only(synth({ highAvailability: true, zone: "1", standbyZone: "2" }).json, "azurerm_postgresql_flexible_server");
    expect(server.high_availability).toEqual({ mode: "ZoneRedundant", standby_availability_zone: "2" });
    expect(server.lifecycle).toEqual({ ignore_changes: ["zone", "high_availability[0].standby_availability_zone"] });
  });

  it("geo-redundant backups get their own identity and the paired region's key", () => {
    const { json } = synth({
      geoRedundantBackup: true,
      geoBackupKey: key("kv-mlflow-dev-ne", "database"),
      geoBackupLocation: "northeurope",
    });
    const server = only(json, "azurerm_postgresql_flexible_server");
    expect(server.geo_redundant_backup_enabled).toBe(true);
    expect(server.customer_managed_key).toMatchObject({
      geo_backup_key_vault_key_id: "https://kv-mlflow-dev-ne.vault.azure.net/keys/database",
      geo_backup_user_assigned_identity_id: expect.stringMatching(/azurerm_user_assigned_identity\.\w*geo_backup_identity\w*\.id/),
    });
    expect(server.identity.identity_ids).toHaveLength(2);
    expect(Object.keys(json.resource!.azurerm_role_assignment)).toHaveLength(2);
  });

  it("production: a CanNotDelete lock, and Terraform may not destroy the server or its database", () => {
    const { json } = synth({ preventDestroy: true });
    expect(only(json, "azurerm_management_lock")).toMatchObject({
      lock_level: "CanNotDelete",
      scope: `\${azurerm_postgresql_flexible_server.${nameOf(json, "azurerm_postgresql_flexible_server")}.id}`,
    });
    expect(only(json, "azurerm_postgresql_flexible_server").lifecycle).toEqual({ prevent_destroy: true });
    expect(only(json, "azurerm_postgresql_flexible_server_database").lifecycle).toEqual({ prevent_destroy: true });
    expect(synth().json.resource!.azurerm_management_lock).toBeUndefined();
  });

  it("puts generated credentials in a Kubernetes Secret and offers the server's name and the Secret through its contract", () => {
    const { json, store } = synth();
    const server = only(json, "azurerm_postgresql_flexible_server");
    const secret = only(json, "kubernetes_secret_v1");
    expect(secret.metadata).toMatchObject({ name: "mlflow-db", namespace: "mlflow" });
    expect(secret.data.password).toMatch(/^\$\{random_password\.\w+\.result\}$/);
    expect(server.administrator_password).toBe(secret.data.password);
    expect(server.administrator_login).toBe(secret.data.username);
    expect(store.contract).toMatchObject({
      port: 5432,
      database: "mlflow",
      credentials: { secretName: "mlflow-db", usernameKey: "username", passwordKey: "password" },
    });
  });

  it.each([
    [{ serverName: "MLflow_DB" }, "serverName", /PostgreSQL flexible server name/],
    [{ engineVersion: "17.2" }, "engineVersion", /major version/],
    [{ skuName: "db.t4g.micro" }, "skuName", /GP_Standard_D2ds_v5/],
    [{ storageMb: 20000 }, "storageMb", /32768, 65536/],
    [{ zone: "4" }, "zone", /"1", "2" or "3"/],
    [{ highAvailability: true, skuName: "B_Standard_B1ms" }, "highAvailability", /Burstable/],
    [{ highAvailability: true, zone: "1", standbyZone: "1" }, "standbyZone", /other than the server's/],
    [{ standbyZone: "2" }, "standbyZone", /without highAvailability/],
    [{ backupRetentionDays: 40 }, "backupRetentionDays", /7 to 35/],
    [{ geoRedundantBackup: true }, "geoBackupKey", /paired region/],
    [{ maintenance: { dayOfWeek: 7, startHour: 4 } }, "maintenance.dayOfWeek", /0 \(Sunday\) to 6/],
  ])("refuses %j naming the prop and the fix", (props, prop, message) => {
    expectPropError(() => synth(props as Partial<PostgresFlexibleStoreProps>), prop, message);
  });
});
