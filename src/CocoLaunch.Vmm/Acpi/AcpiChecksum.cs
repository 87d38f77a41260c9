namespace CocoLaunch.Vmm.Acpi;

/// <summary>ACPI checksums: the byte that makes the covered bytes sum to zero modulo 256 (ACPI 6.5 §5.2.5.3).</summary>
internal static class AcpiChecksum
{
    public static byte Compute(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
        {
            sum += b;
        }

        return (byte)-sum;
    }

    /// <summary>Sets <paramref name="bytes"/>[<paramref name="at"/>] so the span sums to zero.</summary>
    public static void Fill(Span<byte> bytes, int at)
    {
        bytes[at] = 0;
        bytes[at] = Compute(bytes);
    }
}
