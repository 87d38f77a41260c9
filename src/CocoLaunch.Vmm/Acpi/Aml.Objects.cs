namespace CocoLaunch.Vmm.Acpi;

/// <summary>AML named objects besides Name, Scope and Device (ACPI 6.5 §20.2.5.2): regions, fields, mutexes, processors.</summary>
internal static partial class Aml
{
    private const byte MutexOp = 0x01;
    private const byte OpRegionOp = 0x80;
    private const byte FieldOp = 0x81;
    private const byte ProcessorOp = 0x83;
    private const byte CreateDWordFieldOp = 0x8A;

    /// <summary>RegionSpace (§19.6.100).</summary>
    public enum RegionSpace : byte
    {
        SystemMemory = 0,
        SystemIo = 1,
        PciConfig = 2,
    }

    /// <summary>FieldFlags (§19.6.48): AccessType in bits 3:0, LockRule in bit 4, UpdateRule in bits 6:5.</summary>
    [Flags]
    public enum FieldFlags : byte
    {
        AnyAcc = 0,
        ByteAcc = 1,
        WordAcc = 2,
        DWordAcc = 3,
        Lock = 0x10,
        Preserve = 0,
        WriteAsOnes = 0x20,
        WriteAsZeros = 0x40,
    }

    public static byte[] OperationRegion(string name, RegionSpace space, byte[] offset, byte[] length) =>
        [ExtOpPrefix, OpRegionOp, .. NameString(name), (byte)space, .. offset, .. length];

    /// <summary>A Field over <paramref name="region"/>; its units are <see cref="FieldUnit"/> and <see cref="FieldSkip"/>.</summary>
    public static byte[] Field(string region, FieldFlags flags, params byte[][] units) =>
        [ExtOpPrefix, FieldOp, .. WithPkgLength([.. NameString(region), (byte)flags, .. Concat(units)])];

    /// <summary>A NamedField: a four-character name and its width in bits, as a PkgLength.</summary>
    public static byte[] FieldUnit(string name, int bits) => [.. NameString(name), .. BitLength(bits)];

    /// <summary>A ReservedField: <paramref name="bits"/> skipped (ASL writes it as Offset(n) or an unnamed unit).</summary>
    public static byte[] FieldSkip(int bits) => [NullName, .. BitLength(bits)];

    public static byte[] Mutex(string name, byte syncLevel) => [ExtOpPrefix, MutexOp, .. NameString(name), syncLevel];

    /// <summary>Processor(name, id, PBLK address, PBLK length) {…} (§19.6.108; deprecated in ACPI 6.4 but what QEMU 7.2 emits).</summary>
    public static byte[] Processor(string name, byte id, uint pblkAddress, byte pblkLength, params byte[][] terms) =>
        [ExtOpPrefix, ProcessorOp, .. WithPkgLength([.. NameString(name), id, .. BitConverter.GetBytes(pblkAddress), pblkLength, .. Concat(terms)])];

    public static byte[] CreateDWordField(byte[] buffer, byte[] byteIndex, string name) => [CreateDWordFieldOp, .. buffer, .. byteIndex, .. NameString(name)];

    /// <summary>A field width is a PkgLength (§20.2.4) that does not count itself.</summary>
    private static byte[] BitLength(int bits) => bits switch
    {
        < 0x40 => [(byte)bits],
        < 0x1000 => [(byte)(0x40 | (bits & 0x0F)), (byte)(bits >> 4)],
        _ => [(byte)(0x80 | (bits & 0x0F)), (byte)(bits >> 4), (byte)(bits >> 12)],
    };
}
