using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>
/// TDREPORT_STRUCT (1024 bytes) as TDG.MR.REPORT returns it (tdx-mrtd.md §8). The MAC is an HMAC-SHA-256
/// under a fixed emulator key: it shows the structure and lets a test detect tampering, but it is not rooted
/// in any hardware and proves nothing about a real platform.
/// </summary>
public static class TdReport
{
    public const int Size = 1024;
    public const int ReportDataSize = 64;

    /// <summary>REPORTMACSTRUCT offsets (tdx-mrtd.md §8).</summary>
    public static class Mac
    {
        public const int ReportType = 0x000;
        public const int CpuSvn = 0x010;
        public const int TeeTcbInfoHash = 0x020;
        public const int TeeInfoHash = 0x050;
        public const int ReportData = 0x080;
        public const int MacValue = 0x0E0;
        public const int Length = 0x100;
    }

    /// <summary>TEE_TCB_INFO: its place in the report, and offsets inside it.</summary>
    public static class TcbInfo
    {
        public const int Offset = 0x100;
        public const int Length = 0xEF;
        public const int Valid = 0x00;
        public const int TeeTcbSvn = 0x08;
        public const int MrSeam = 0x18;
        public const int MrSignerSeam = 0x48;
        public const int SeamAttributes = 0x78;
    }

    /// <summary>TDINFO_STRUCT: its place in the report, and offsets inside it.</summary>
    public static class TdInfo
    {
        public const int Offset = 0x200;
        public const int Length = 0x200;
        public const int Attributes = 0x000;
        public const int Xfam = 0x008;
        public const int Mrtd = 0x010;
        public const int MrConfigId = 0x040;
        public const int MrOwner = 0x070;
        public const int MrOwnerConfig = 0x0A0;
        public const int Rtmr0 = 0x0D0;
    }

    /// <summary>REPORTTYPE: type 0x81 (TDX), subtype 0, version 0 (SERVTD_HASH not populated).</summary>
    private const byte TdxReportType = 0x81;

    /// <summary>The emulator's stand-in for the CPU-bound report key; public on purpose.</summary>
    public static readonly byte[] EmulatorMacKey = SHA256.HashData(Encoding.ASCII.GetBytes("CocoLaunch emulated TDX module: TDREPORT MAC key v1"));

    /// <summary>MRSEAM of the emulated module: a digest of its name, so reports never look like real hardware's.</summary>
    public static readonly byte[] EmulatorMrSeam = SHA384.HashData(Encoding.ASCII.GetBytes("CocoLaunch emulated TDX module"));

    public static byte[] Build(TdParams td, ReadOnlySpan<byte> mrtd, IReadOnlyList<byte[]> rtmrs, ReadOnlySpan<byte> reportData)
    {
        if (reportData.Length != ReportDataSize)
        {
            throw new ArgumentException($"REPORTDATA is {ReportDataSize} bytes, got {reportData.Length}", nameof(reportData));
        }

        var report = new byte[Size];
        var tcb = report.AsSpan(TcbInfo.Offset, TcbInfo.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(tcb[TcbInfo.Valid..], 0b11); // TEE_TCB_SVN and MRSEAM valid
        EmulatorMrSeam.CopyTo(tcb[TcbInfo.MrSeam..]);

        var info = report.AsSpan(TdInfo.Offset, TdInfo.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(info[TdInfo.Attributes..], td.Attributes);
        BinaryPrimitives.WriteUInt64LittleEndian(info[TdInfo.Xfam..], td.Xfam);
        mrtd.CopyTo(info[TdInfo.Mrtd..]);
        td.MrConfigId.CopyTo(info[TdInfo.MrConfigId..]);
        td.MrOwner.CopyTo(info[TdInfo.MrOwner..]);
        td.MrOwnerConfig.CopyTo(info[TdInfo.MrOwnerConfig..]);
        for (int i = 0; i < rtmrs.Count; i++)
        {
            rtmrs[i].CopyTo(info[(TdInfo.Rtmr0 + (i * 48))..]);
        }

        var mac = report.AsSpan(0, Mac.Length);
        mac[Mac.ReportType] = TdxReportType;
        SHA384.HashData(tcb, mac[Mac.TeeTcbInfoHash..]);
        SHA384.HashData(info, mac[Mac.TeeInfoHash..]);
        reportData.CopyTo(mac[Mac.ReportData..]);
        HMACSHA256.HashData(EmulatorMacKey, mac[..Mac.MacValue], mac[Mac.MacValue..]);
        return report;
    }

    /// <summary>Whether the MAC and both hashes match the rest of the report (a tampered field fails).</summary>
    public static bool Verify(ReadOnlySpan<byte> report)
    {
        if (report.Length != Size)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[48];
        SHA384.HashData(report.Slice(TcbInfo.Offset, TcbInfo.Length), expected);
        if (!expected.SequenceEqual(report.Slice(Mac.TeeTcbInfoHash, 48)))
        {
            return false;
        }

        SHA384.HashData(report.Slice(TdInfo.Offset, TdInfo.Length), expected);
        if (!expected.SequenceEqual(report.Slice(Mac.TeeInfoHash, 48)))
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(EmulatorMacKey, report[..Mac.MacValue], mac);
        return CryptographicOperations.FixedTimeEquals(mac, report.Slice(Mac.MacValue, 32));
    }
}
