-- updated_at tells when an entry changed, not when it was last probed: the health reporter
-- writes last_health_check_at every minute, and an update that changes nothing else must not
-- move updated_at (a status change still does).

DROP TRIGGER IF EXISTS model_registry_entries_touch_updated_at ON model_registry_entries;
CREATE TRIGGER model_registry_entries_touch_updated_at
    BEFORE UPDATE ON model_registry_entries
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_health_check_at' - 'updated_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'last_health_check_at' - 'updated_at'))
    EXECUTE FUNCTION vllm_platform_registry_touch_updated_at();
