using System.Buffers.Binary;

namespace CocoLaunch.Attestation.Tdx;

/// <summary>
/// The quoting enclave's SGX report body (384 bytes; tdx-mrtd.md §9): who the QE is (MRSIGNER, ISVPRODID), its
/// security version (ISVSVN), and REPORTDATA binding the attestation key. Intel's QE identity collateral names the
/// values a genuine, current TD QE has.
/// </summary>
public sealed class QeReport(ReadOnlyMemory<byte> bytes)
{
    /// <summary>Offsets in the SGX report body.</summary>
    public static class Offset
    {
        public const int CpuSvn = 0x00, MiscSelect = 0x10, Attributes = 0x30, MrEnclave = 0x40, MrSigner = 0x80;
        public const int IsvProdId = 0x100, IsvSvn = 0x102, ReportData = 0x140;
    }

    public ReadOnlyMemory<byte> Bytes { get; } = bytes;

    public ReadOnlySpan<byte> Span => Bytes.Span;

    public ReadOnlySpan<byte> MiscSelect => Span.Slice(Offset.MiscSelect, 4);

    public ReadOnlySpan<byte> Attributes => Span.Slice(Offset.Attributes, 16);

    public ReadOnlySpan<byte> MrSigner => Span.Slice(Offset.MrSigner, 32);

    public ushort IsvProdId => BinaryPrimitives.ReadUInt16LittleEndian(Span[Offset.IsvProdId..]);

    public ushort IsvSvn => BinaryPrimitives.ReadUInt16LittleEndian(Span[Offset.IsvSvn..]);

    public ReadOnlySpan<byte> ReportData => Span.Slice(Offset.ReportData, 64);
}
