using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// The guest's channel to the firmware after launch (guest-abi.md §7): the secrets page with the four VMPCKs
/// (written at LAUNCH_UPDATE SECRETS), and SNP_GUEST_REQUEST messages in AES-256-GCM under them.
/// </summary>
public sealed partial class SnpGuestContext
{
    public const int MessageHeaderSize = 96;
    public const byte MsgReportReq = 5, MsgReportRsp = 6;
    public const int ReportRequestSize = 96, ReportResponseHeader = 0x20;

    /// <summary>Secrets page layout (guest-abi.md §7.1).</summary>
    public static class Secrets
    {
        public const int Version = 0x000, Fms = 0x008, Vmpck0 = 0x020, VmpckSize = 32, MsgSeqno0 = 0x0A0;
        public const uint PageVersion = 2;
    }

    private static class Header
    {
        public const int AuthTag = 0x00, Seqno = 0x20, Algo = 0x30, HdrVersion = 0x31, HdrSize = 0x32, MsgType = 0x34;
        public const int MsgVersion = 0x35, MsgSize = 0x36, MsgVmpck = 0x3C, AadStart = 0x30, AadLength = 0x30;
    }

    private readonly byte[][] vmpck = [.. Enumerable.Range(0, 4).Select(_ => KeyRandom.GetBytes(32))];
    private readonly ulong[] messageSeqno = new ulong[4];
    private readonly List<byte[]> guestReports = [];
    private ECDsa? vcek;

    /// <summary>HOST_DATA from LAUNCH_FINISH, for the report.</summary>
    public byte[] HostData { get; set; } = new byte[32];

    /// <summary>CPUID.1:EAX of the guest's vCPUs, for the report's family, model and stepping.</summary>
    public uint CpuSignature { get; set; } = 0x00A0_0F11;

    /// <summary>The per-guest REPORT_ID.</summary>
    public byte[] ReportId { get; } = KeyRandom.GetBytes(32);

    public ECDsa Vcek => vcek ??= AttestationReport.CreateEmulatorVcek();

    /// <summary>
    /// The attestation reports this firmware returned to the guest through SNP_GUEST_REQUEST, in order: what a VMM
    /// can hand a verifier as the evidence the guest itself obtained.
    /// </summary>
    public IReadOnlyList<byte[]> GuestReports
    {
        get
        {
            lock (guestReports)
            {
                return [.. guestReports];
            }
        }
    }

    /// <summary>VMPCK <paramref name="index"/>, as the secrets page holds it.</summary>
    public byte[] Vmpck(int index) => vmpck[index].ToArray();

    /// <summary>The secrets page the firmware writes into guest memory at LAUNCH_UPDATE SECRETS.</summary>
    public byte[] SecretsPage()
    {
        var page = new byte[4096];
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(Secrets.Version), Secrets.PageVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(Secrets.Fms), CpuSignature);
        for (int k = 0; k < 4; k++)
        {
            vmpck[k].CopyTo(page, Secrets.Vmpck0 + (k * Secrets.VmpckSize));
        }

        return page;
    }

    /// <summary>
    /// SNP_GUEST_REQUEST: authenticates and decrypts the request message with VMPCK[msg_vmpck], answers it, and
    /// writes the encrypted response (sequence number + 1, type + 1) into <paramref name="response"/>. A message
    /// that fails its checks gets no response and a firmware error, as on hardware.
    /// </summary>
    public SnpStatus GuestRequest(ReadOnlySpan<byte> request, Span<byte> response)
    {
        if (!IsFinished || request.Length < MessageHeaderSize || response.Length < 4096)
        {
            return SnpStatus.InvalidGuestState;
        }

        var h = request[..MessageHeaderSize];
        int key = h[Header.MsgVmpck];
        int size = BinaryPrimitives.ReadUInt16LittleEndian(h[Header.MsgSize..]);
        ulong seqno = BinaryPrimitives.ReadUInt64LittleEndian(h[Header.Seqno..]);
        if (h[Header.Algo] != 1 || h[Header.HdrVersion] != 1 || BinaryPrimitives.ReadUInt16LittleEndian(h[Header.HdrSize..]) != MessageHeaderSize
            || key > 3 || MessageHeaderSize + size > request.Length)
        {
            return SnpStatus.InvalidParam;
        }

        if (seqno != messageSeqno[key] + 1)
        {
            return SnpStatus.AuthError; // a replay, or a guest that lost count
        }

        var plain = new byte[size];
        try
        {
            using var aes = new AesGcm(vmpck[key], 16);
            aes.Decrypt(Iv(seqno), request.Slice(MessageHeaderSize, size), h.Slice(Header.AuthTag, 16), plain, h.Slice(Header.AadStart, Header.AadLength));
        }
        catch (AuthenticationTagMismatchException)
        {
            return SnpStatus.AuthError;
        }

        if (h[Header.MsgType] != MsgReportReq)
        {
            return SnpStatus.InvalidParam; // only reports are modelled
        }

        byte[] payload = ReportResponse(plain, (uint)key);
        messageSeqno[key] = seqno + 1;
        var r = response[..4096];
        r.Clear();
        h[Header.Algo..MessageHeaderSize].CopyTo(r[Header.Algo..]);
        BinaryPrimitives.WriteUInt64LittleEndian(r[Header.Seqno..], seqno + 1);
        r[Header.MsgType] = MsgReportRsp;
        BinaryPrimitives.WriteUInt16LittleEndian(r[Header.MsgSize..], (ushort)payload.Length);
        using (var aes = new AesGcm(vmpck[key], 16))
        {
            aes.Encrypt(Iv(seqno + 1), payload, r.Slice(MessageHeaderSize, payload.Length), r.Slice(Header.AuthTag, 16), r.Slice(Header.AadStart, Header.AadLength));
        }

        return SnpStatus.Success;
    }

    /// <summary>MSG_REPORT_RSP: status, report size, then the report (guest-abi.md §7.3).</summary>
    private byte[] ReportResponse(ReadOnlySpan<byte> request, uint callerVmpl)
    {
        var payload = new byte[ReportResponseHeader + AttestationReport.Size];
        uint vmpl = request.Length >= 68 ? BinaryPrimitives.ReadUInt32LittleEndian(request[64..]) : uint.MaxValue;
        if (request.Length != ReportRequestSize || vmpl > 3 || vmpl < callerVmpl || request[68..].ContainsAnyExcept((byte)0))
        {
            BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)SnpStatus.InvalidParam);
            return payload[..ReportResponseHeader];
        }

        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), AttestationReport.Size);
        byte[] report = Report(request[..64], vmpl);
        report.CopyTo(payload, ReportResponseHeader);
        lock (guestReports)
        {
            guestReports.Add(report);
        }

        return payload;
    }

    /// <summary>This guest's ATTESTATION_REPORT for <paramref name="reportData"/>, signed by the emulated VCEK: what MSG_REPORT_REQ answers.</summary>
    public byte[] Report(ReadOnlySpan<byte> reportData, uint vmpl)
    {
        var fields = new AttestationReport.Fields(Policy ?? 0, LaunchDigest, HostData, IdKeyDigest, AuthorKeyDigest, ReportId, IdBlock,
            AuthorKeyEnabled, CpuSignature);
        return AttestationReport.Build(fields, reportData, vmpl, Vcek);
    }

    private static byte[] Iv(ulong seqno)
    {
        var iv = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(iv, seqno);
        return iv;
    }
}
