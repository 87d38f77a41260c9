namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// ACPI tables laid out for one guest-physical base: <see cref="Bytes"/> go at the base, the RSDP first (its GPA is
/// what boot_params.acpi_rsdp_addr takes), then each table 16-byte aligned.
/// </summary>
/// <param name="Tables">Each table's signature and GPA, in layout order (the RSDP as "RSD PTR ").</param>
public sealed record AcpiTableSet(byte[] Bytes, ulong RsdpGpa, IReadOnlyList<(string Signature, ulong Gpa, int Length)> Tables);
