using System.Buffers.Binary;
using System.Security.Cryptography;
using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp.Tests;

/// <summary>
/// The emulated firmware's side of SNP guest messages (guest-abi.md §7): the secrets page, MSG_REPORT_REQ in
/// AES-256-GCM under a VMPCK, and the signed ATTESTATION_REPORT it returns. The guest side here is written from the
/// spec (header, AAD, IV), not from the firmware code.
/// </summary>
public sealed class GuestMessageTests
{
    private static SnpGuestContext Launched()
    {
        var context = new SnpGuestContext();
        context.LaunchStart(0x30000);
        context.LaunchUpdate(SnpPageType.Normal, new Gpa(0x10_0000), new byte[4096]);
        context.LaunchFinish();
        return context;
    }

    [Fact]
    public void SecretsPage_HoldsTheVersionAndTheFourVmpcks()
    {
        var context = Launched();
        var page = context.SecretsPage();
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(page));
        for (int k = 0; k < 4; k++)
        {
            Assert.Equal(context.Vmpck(k), page.AsSpan(0x20 + (32 * k), 32).ToArray());
        }

        Assert.NotEqual(context.Vmpck(0), context.Vmpck(1));
    }

    [Fact]
    public void ReportRequest_GetsASignedReportWithTheMeasurementAndReportData()
    {
        var context = Launched();
        var data = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        var response = new byte[4096];
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(context.Vmpck(0), 1, ReportReq(data)), response));

        var payload = Open(context.Vmpck(0), response, expectedSeqno: 2);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(payload)); // status
        Assert.Equal(0x4A0u, BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(4)));
        var report = payload.AsSpan(0x20, 0x4A0).ToArray();
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(report));
        Assert.Equal(0x30000UL, BinaryPrimitives.ReadUInt64LittleEndian(report.AsSpan(0x08)));
        Assert.Equal(data, report.AsSpan(0x50, 64).ToArray());
        Assert.Equal(context.LaunchDigest, report.AsSpan(0x90, 48).ToArray());
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(report.AsSpan(0x34))); // ECDSA P-384 / SHA-384

        // The signature over 0x000–0x29F verifies with the emulated VCEK's public key (R, S little-endian, 72 bytes each).
        var rs = new byte[96];
        report.AsSpan(0x2A0, 48).ToArray().Reverse().ToArray().CopyTo(rs, 0);
        report.AsSpan(0x2E8, 48).ToArray().Reverse().ToArray().CopyTo(rs, 48);
        using var vcek = ECDsa.Create(context.Vcek.ExportParameters(false));
        Assert.True(vcek.VerifyData(report.AsSpan(0, 0x2A0), rs, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        report[0x50] ^= 1;
        Assert.False(vcek.VerifyData(report.AsSpan(0, 0x2A0), rs, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    [Fact]
    public void SequenceNumbers_TheNextRequestIsPlusTwo_AReplayIsAnAuthError()
    {
        var context = Launched();
        var key = context.Vmpck(0);
        var response = new byte[4096];
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(key, 1, ReportReq(new byte[64])), response));
        Assert.Equal(SnpStatus.AuthError, context.GuestRequest(Request(key, 1, ReportReq(new byte[64])), response)); // replay
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(key, 3, ReportReq(new byte[64])), response));
    }

    [Fact]
    public void WrongKeyOrTamperedTag_AuthError_AndNoResponse()
    {
        var context = Launched();
        var response = new byte[4096];
        Assert.Equal(SnpStatus.AuthError, context.GuestRequest(Request(context.Vmpck(1), 1, ReportReq(new byte[64])), response)); // says VMPCK0
        var tampered = Request(context.Vmpck(0), 1, ReportReq(new byte[64]));
        tampered[0] ^= 0x80;
        Assert.Equal(SnpStatus.AuthError, context.GuestRequest(tampered, response));
        Assert.All(response, b => Assert.Equal(0, b));
    }

    [Fact]
    public void ReportRequestWithReservedBytes_RespondsWithStatusInvalidParam()
    {
        var context = Launched();
        var req = ReportReq(new byte[64]);
        req[80] = 1;
        var response = new byte[4096];
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(context.Vmpck(0), 1, req), response));
        Assert.Equal(0x16u, BinaryPrimitives.ReadUInt32LittleEndian(Open(context.Vmpck(0), response, 2)));
    }

    [Fact]
    public void GuestReports_KeepsTheReportsAnsweredInOrder_NotTheRefusedOnes()
    {
        // What launch --evidence-out writes: the reports the guest received, as the guest decrypts them.
        var context = Launched();
        var key = context.Vmpck(0);
        var (first, second) = (new byte[64], Enumerable.Repeat((byte)0xA5, 64).ToArray());
        var response = new byte[4096];
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(key, 1, ReportReq(first)), response));
        var received = Open(key, response, 2).AsSpan(0x20, 0x4A0).ToArray();
        Assert.Equal(SnpStatus.AuthError, context.GuestRequest(Request(key, 1, ReportReq(second)), response)); // a replay: no report
        var reserved = ReportReq(second);
        reserved[80] = 1;
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(key, 3, reserved), response)); // answered with status 0x16, no report
        Assert.Equal(SnpStatus.Success, context.GuestRequest(Request(key, 5, ReportReq(second)), response));

        Assert.Equal(2, context.GuestReports.Count);
        Assert.Equal(received, context.GuestReports[0]);
        Assert.Equal(Open(key, response, 6).AsSpan(0x20, 0x4A0).ToArray(), context.GuestReports[1]);
        Assert.Equal(second, context.GuestReports[1].AsSpan(0x50, 64).ToArray());
    }

    private static byte[] ReportReq(byte[] reportData)
    {
        var req = new byte[96];
        reportData.CopyTo(req, 0); // vmpl 0, reserved zero
        return req;
    }

    /// <summary>A request page as a guest builds it: header, AAD = header[0x30..0x60), IV = seqno LE then 4 zero bytes.</summary>
    private static byte[] Request(byte[] key, ulong seqno, byte[] payload, byte type = 5)
    {
        var page = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(0x20), seqno);
        page[0x30] = 1; // AES-256-GCM
        page[0x31] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(page.AsSpan(0x32), 96);
        page[0x34] = type;
        page[0x35] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(page.AsSpan(0x36), (ushort)payload.Length);
        page[0x3C] = 0;
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(Iv(seqno), payload, page.AsSpan(96, payload.Length), page.AsSpan(0, 16), page.AsSpan(0x30, 0x30));
        return page;
    }

    private static byte[] Open(byte[] key, byte[] response, ulong expectedSeqno)
    {
        Assert.Equal(expectedSeqno, BinaryPrimitives.ReadUInt64LittleEndian(response.AsSpan(0x20)));
        Assert.Equal(6, response[0x34]);
        int size = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(0x36));
        var plain = new byte[size];
        using var aes = new AesGcm(key, 16);
        aes.Decrypt(Iv(expectedSeqno), response.AsSpan(96, size), response.AsSpan(0, 16), plain, response.AsSpan(0x30, 0x30));
        return plain;
    }

    private static byte[] Iv(ulong seqno)
    {
        var iv = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(iv, seqno);
        return iv;
    }
}
