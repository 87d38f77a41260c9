using System.Text;
using CocoLaunch.Attestation.Certificates;
using CocoLaunch.Attestation.Tdx.Collateral;

namespace CocoLaunch.Attestation.Tests;

/// <summary>Collateral that cannot be read is an input error naming the file and the field or byte, never an exception of the JSON or ASN.1 reader.</summary>
public sealed class MalformedCollateralTests
{
    private static string TcbInfoText => Encoding.UTF8.GetString(RealEvidence.Bytes("tdx-go-tdx-guest/tcbInfo.json"));

    private static string Load(string tcbInfo) =>
        Assert.Throws<EvidenceFormatException>(() => IntelCollateral.FromPcsFiles((Encoding.UTF8.GetBytes(tcbInfo), "t.json"), null, null, [])).Message;

    [Theory]
    [InlineData("\"pcesvn\":11", "\"pcesvX\":11", "t.json: tcbInfo.tcbLevels[0].tcb.pcesvn is missing")]
    [InlineData("\"pcesvn\":11", "\"pcesvn\":\"11\"", "t.json: tcbInfo.tcbLevels[0].tcb.pcesvn is \"11\", not a whole number from 0 to 65535")]
    [InlineData("\"fmspc\":\"50806f000000\"", "\"fmspc\":\"50806f00000g\"", "t.json: tcbInfo.fmspc is '50806f00000g', not 6 bytes in hex")]
    [InlineData("\"tcbStatus\":\"OutOfDate\"", "\"tcbStatus\":\"Fine\"", "t.json: tcbInfo.tcbLevels[1].tcbStatus is 'Fine', not one of UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked")]
    [InlineData("\"version\":3", "\"version\":2", "t.json: tcbInfo.version is 2: only version 3 (with TDX TCB components) is read")]
    [InlineData(",{\"svn\":0}]", "]", "t.json: tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents has 15 components, not 16")]
    [InlineData("\"signature\":\"", "\"signature\":\"zz\",\"x\":\"", "t.json: signature is 'zz', not a 64-byte signature in hex")]
    public void AFieldOfTheWrongShape_IsNamedByItsPath(string find, string replace, string message)
    {
        int at = TcbInfoText.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0, find);
        Assert.Equal(message, Load(string.Concat(TcbInfoText.AsSpan(0, at), replace, TcbInfoText.AsSpan(at + find.Length))));
    }

    [Fact]
    public void TruncatedJson_NamesTheByte() =>
        Assert.Equal("t.json: not JSON: Expected end of string, but instead reached end of data. LineNumber: 0 | BytePositionInLine: 100.",
            Load(TcbInfoText[..100]));

    [Fact]
    public void NotAPcsResponse_SaysWhatWasExpected()
    {
        Assert.Equal("t.json: at byte 0: not a JSON object (a PCS response with \"tcbInfo\" and \"signature\")", Load("[1, 2]"));
        Assert.Equal("t.json: no \"tcbInfo\" object: not a PCS TCB info response", Load("{\"enclaveIdentity\": {}}"));
        Assert.Equal("t.json: at byte 12: \"tcbInfo\" is String, not an object", Load("{\"tcbInfo\": \"x\"}"));
    }

    [Fact]
    public void QeIdentityWithoutMrSigner_IsNamed()
    {
        string text = Encoding.UTF8.GetString(RealEvidence.Bytes("tdx-go-tdx-guest/qeIdentity.json")).Replace("\"mrsigner\"", "\"mrsignex\"", StringComparison.Ordinal);
        var e = Assert.Throws<EvidenceFormatException>(() => IntelCollateral.FromPcsFiles(null, (Encoding.UTF8.GetBytes(text), "q.json"), null, []));
        Assert.Equal("q.json: enclaveIdentity.mrsigner is missing", e.Message);
    }

    [Fact]
    public void DcapQvlCollateralWithoutThePckCrl_IsNamed()
    {
        string text = Encoding.UTF8.GetString(RealEvidence.Bytes("tdx-dcap-qvl/collateral.json")).Replace("\"pck_crl\"", "\"pck_crl_\"", StringComparison.Ordinal);
        var e = Assert.Throws<EvidenceFormatException>(() => IntelCollateral.FromQuoteCollateralJson(Encoding.UTF8.GetBytes(text), "c.json"));
        Assert.Equal("c.json: collateral.pck_crl is missing", e.Message);
    }

    [Theory]
    [InlineData("hello", "c.crl: not an X.509 CRL: the CertificateList cannot be read")]
    [InlineData("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "c.crl: PEM without an 'X509 CRL' block")]
    public void NotACrl_IsAFormatError(string text, string start) =>
        Assert.StartsWith(start, Assert.Throws<EvidenceFormatException>(() => RevocationList.Parse(Encoding.ASCII.GetBytes(text), "c.crl")).Message, StringComparison.Ordinal);

    [Fact]
    public void ATruncatedRealCrl_NamesThePartThatCannotBeRead()
    {
        var crl = RealEvidence.Bytes("tdx-go-tdx-guest/pck-platform-ca.crl");
        Assert.StartsWith("c.crl: not an X.509 CRL: the CertificateList cannot be read", Assert.Throws<EvidenceFormatException>(() => RevocationList.Parse(crl[..1000], "c.crl")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"TD_QE\"", 3, "q.json: enclaveIdentity.id is not UTF-8 text")]
    [InlineData("\"signature\":\"", 13, "q.json: at byte 493: a string that is not UTF-8")]
    public void InvalidUtf8InAString_IsAFormatError(string find, int into, string message)
    {
        // Found by mutating the collateral: the JSON readers check UTF-8 only when a string is read, and threw.
        var bytes = RealEvidence.Bytes("tdx-go-tdx-guest/qeIdentity.json").ToList();
        int at = Encoding.ASCII.GetString([.. bytes]).IndexOf(find, StringComparison.Ordinal) + into;
        bytes.Insert(at, 0xFF);
        var e = Assert.Throws<EvidenceFormatException>(() => IntelCollateral.FromPcsFiles(null, ([.. bytes], "q.json"), null, []));
        Assert.Equal(message, e.Message);
    }
}
