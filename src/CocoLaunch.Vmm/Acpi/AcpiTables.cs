namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// Builds the tables Linux 6.12 reads on a hardware-reduced PC: RSDP → XSDT → FADT (→ DSDT) and MADT, as
/// Firecracker and cloud-hypervisor ship them (no FACS, no RSDT).
/// </summary>
public static class AcpiTables
{
    private const int Alignment = 16;

    /// <exception cref="ArgumentOutOfRangeException">The CPU count is outside 1..<see cref="AcpiPlatform.MaxCpus"/>.</exception>
    public static AcpiTableSet Build(AcpiPlatform platform, ulong baseGpa)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentOutOfRangeException.ThrowIfLessThan(platform.CpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(platform.CpuCount, AcpiPlatform.MaxCpus);

        // Sizes do not depend on addresses, so lay out first and fill the pointers after.
        byte[] dsdt = Dsdt.Build(platform);
        byte[] madt = Madt.Build(platform);
        ulong rsdpGpa = baseGpa;
        ulong xsdtGpa = AlignUp(rsdpGpa + Rsdp.Length);
        byte[]? ccel = platform.EventLog is { } log ? Ccel.Build(log) : null;
        ulong fadtGpa = AlignUp(xsdtGpa + (ulong)Xsdt.LengthFor(ccel is null ? 2 : 3));
        ulong madtGpa = AlignUp(fadtGpa + Fadt.Length);
        ulong ccelGpa = AlignUp(madtGpa + (ulong)madt.Length);
        ulong dsdtGpa = AlignUp(ccelGpa + (ulong)(ccel?.Length ?? 0));

        byte[] fadt = Fadt.Build(platform, dsdtGpa);
        byte[] xsdt = Xsdt.Build(ccel is null ? [fadtGpa, madtGpa] : [fadtGpa, madtGpa, ccelGpa]);
        byte[] rsdp = Rsdp.Build(xsdtGpa);

        var placed = new List<(string, ulong, byte[])>
        {
            ("RSD PTR ", rsdpGpa, rsdp), (Xsdt.Signature, xsdtGpa, xsdt), (Fadt.Signature, fadtGpa, fadt), (Madt.Signature, madtGpa, madt),
        };
        if (ccel is not null)
        {
            placed.Add((Ccel.Signature, ccelGpa, ccel));
        }

        placed.Add((Dsdt.Signature, dsdtGpa, dsdt));
        var bytes = new byte[dsdtGpa + (ulong)dsdt.Length - baseGpa];
        foreach (var (_, gpa, table) in placed)
        {
            table.CopyTo(bytes, (int)(gpa - baseGpa));
        }

        return new AcpiTableSet(bytes, rsdpGpa, [.. placed.Select(p => (p.Item1, p.Item2, p.Item3.Length))]);
    }

    private static ulong AlignUp(ulong gpa) => (gpa + Alignment - 1) & ~(ulong)(Alignment - 1);
}
