using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// ATTESTATION_REPORT, version 3 (0x4A0 bytes; snp-launch-digest.md §12), as the emulated firmware answers
/// MSG_REPORT_REQ, signed with ECDSA P-384 by the emulated VCEK. The VCEK is a published test key: a report
/// signed with it proves the structure, never a real platform.
/// </summary>
public static class AttestationReport
{
    public const int Size = 0x4A0;
    public const int SignedBytes = 0x2A0;
    public const uint Version = 3;

    public static class Offset
    {
        public const int Version = 0x000, GuestSvn = 0x004, Policy = 0x008, FamilyId = 0x010, ImageId = 0x020, Vmpl = 0x030;
        public const int SignatureAlgo = 0x034, CurrentTcb = 0x038, PlatformInfo = 0x040, KeyInfo = 0x048, ReportData = 0x050;
        public const int Measurement = 0x090, HostData = 0x0C0, IdKeyDigest = 0x0E0, AuthorKeyDigest = 0x110, ReportId = 0x140;
        public const int ReportIdMa = 0x160, ReportedTcb = 0x180, CpuidFamily = 0x188, CpuidModel = 0x189, CpuidStepping = 0x18A;
        public const int ChipId = 0x1A0, CommittedTcb = 0x1E0, CurrentBuild = 0x1E8, CurrentMinor = 0x1E9, CurrentMajor = 0x1EA;
        public const int CommittedBuild = 0x1EC, CommittedMinor = 0x1ED, CommittedMajor = 0x1EE, LaunchTcb = 0x1F0, Signature = 0x2A0;
    }

    /// <summary>The emulated platform's TCB (legacy layout: boot loader 3, TEE 0, SNP 8, microcode 115), and firmware 1.55 build 21.</summary>
    public const ulong EmulatorTcb = 0x7308_0000_0000_0003;

    /// <summary>The emulated chip: its id is a digest of the emulator's name, so it never looks like a real part.</summary>
    public static readonly byte[] EmulatorChipId = SHA512.HashData(Encoding.ASCII.GetBytes("CocoLaunch emulated SNP chip"));

    /// <summary>The emulated VCEK, derived from a public string: a test key, on purpose.</summary>
    public static ECDsa CreateEmulatorVcek()
    {
        var d = SHA384.HashData(Encoding.ASCII.GetBytes("CocoLaunch emulated VCEK (test key, not secret)"));
        d[0] &= 0x7F; // below the P-384 group order
        return ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP384, D = d });
    }

    /// <summary>What a report says about the guest; the rest is the emulated platform's.</summary>
    public sealed record Fields(ulong Policy, byte[] Measurement, byte[] HostData, byte[] IdKeyDigest, byte[] AuthorKeyDigest, byte[] ReportId,
        IdBlock? IdBlock, bool AuthorKeyEnabled, uint CpuSignature);

    public static byte[] Build(Fields f, ReadOnlySpan<byte> reportData, uint vmpl, ECDsa vcek)
    {
        var r = new byte[Size];
        var s = r.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[Offset.Version..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Offset.GuestSvn..], f.IdBlock?.GuestSvn ?? 0);
        BinaryPrimitives.WriteUInt64LittleEndian(s[Offset.Policy..], f.Policy);
        f.IdBlock?.FamilyId.CopyTo(s[Offset.FamilyId..]);
        f.IdBlock?.ImageId.CopyTo(s[Offset.ImageId..]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Offset.Vmpl..], vmpl);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Offset.SignatureAlgo..], 1); // ECDSA P-384 with SHA-384
        BinaryPrimitives.WriteUInt64LittleEndian(s[Offset.CurrentTcb..], EmulatorTcb);
        BinaryPrimitives.WriteUInt64LittleEndian(s[Offset.PlatformInfo..], 1); // SMT_EN
        BinaryPrimitives.WriteUInt32LittleEndian(s[Offset.KeyInfo..], f.AuthorKeyEnabled ? 1u : 0); // signed by the VCEK
        reportData.CopyTo(s[Offset.ReportData..]);
        f.Measurement.CopyTo(s[Offset.Measurement..]);
        f.HostData.CopyTo(s[Offset.HostData..]);
        f.IdKeyDigest.CopyTo(s[Offset.IdKeyDigest..]);
        f.AuthorKeyDigest.CopyTo(s[Offset.AuthorKeyDigest..]);
        f.ReportId.CopyTo(s[Offset.ReportId..]);
        s.Slice(Offset.ReportIdMa, 32).Fill(0xFF);
        BinaryPrimitives.WriteUInt64LittleEndian(s[Offset.ReportedTcb..], EmulatorTcb);
        uint sig = f.CpuSignature;
        r[Offset.CpuidFamily] = (byte)(((sig >> 8) & 0xF) + ((sig >> 20) & 0xFF));
        r[Offset.CpuidModel] = (byte)(((sig >> 4) & 0xF) | ((sig >> 12) & 0xF0));
        r[Offset.CpuidStepping] = (byte)(sig & 0xF);
        EmulatorChipId.CopyTo(s[Offset.ChipId..]);
        BinaryPrimitives.WriteUInt64LittleEndian(s[Offset.CommittedTcb..], EmulatorTcb);
        (r[Offset.CurrentBuild], r[Offset.CurrentMinor], r[Offset.CurrentMajor]) = (21, 55, 1);
        (r[Offset.CommittedBuild], r[Offset.CommittedMinor], r[Offset.CommittedMajor]) = (21, 55, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[Offset.LaunchTcb..], EmulatorTcb);
        AmdEcdsa.Sign(vcek, s[..SignedBytes]).AsSpan(0, 2 * 72).CopyTo(s[Offset.Signature..]);
        return r;
    }
}
