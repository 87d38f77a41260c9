namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The header QEMU gives each table it builds (hw/acpi/aml-build.c acpi_table_begin, include/hw/acpi/aml-build.h
/// ACPI_BUILD_APPNAME6 and ACPI_BUILD_APPNAME8): OEM "BOCHS ", table "BXPC    ", creator "BXPC", both revisions 1.
/// The checksum byte stays 0: the table-loader's ADD_CHECKSUM command fills it in the guest.
/// </summary>
internal static class QemuTable
{
    public const string OemId = "BOCHS ", OemTableId = "BXPC    ", CreatorId = "BXPC";

    public static byte[] Create(string signature, int length, byte revision) =>
        SystemDescriptionTable.Create(signature, length, revision, OemId, OemTableId, CreatorId);
}
