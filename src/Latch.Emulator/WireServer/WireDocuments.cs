using System.Globalization;
using System.Text;
using System.Xml;
using Latch.Emulator.State;

namespace Latch.Emulator.WireServer;

/// <summary>The XML documents the WireServer serves, shaped like WALinuxAgent's test fixtures of real responses.</summary>
internal static class WireDocuments
{
    public const string ProtocolVersion = "2012-11-30";

    public static string Versions() => Write(w =>
    {
        w.WriteStartElement("Versions");
        w.WriteStartElement("Preferred");
        w.WriteElementString("Version", ProtocolVersion);
        w.WriteEndElement();
        w.WriteStartElement("Supported");
        foreach (var version in new[] { ProtocolVersion, "2010-12-15", "2010-28-10" })
        {
            w.WriteElementString("Version", version);
        }

        w.WriteEndElement();
        w.WriteEndElement();
    });

    /// <param name="baseUri">How the caller reached us (scheme://host:port), so the config URLs point back here.</param>
    public static string GoalState(VmState vm, int incarnation, string baseUri) => Write(w =>
    {
        var inc = incarnation.ToString(CultureInfo.InvariantCulture);
        var configBase = $"{baseUri}/machine/{vm.ContainerId}/{vm.InstanceId}";
        w.WriteStartElement("GoalState");
        w.WriteAttributeString("xmlns", "xsi", null, "http://www.w3.org/2001/XMLSchema-instance");
        w.WriteAttributeString("xsi", "noNamespaceSchemaLocation", "http://www.w3.org/2001/XMLSchema-instance", "goalstate10.xsd");
        w.WriteElementString("Version", ProtocolVersion);
        w.WriteElementString("Incarnation", inc);
        w.WriteStartElement("Machine");
        w.WriteElementString("ExpectedState", "Started");
        w.WriteElementString("StopRolesDeadlineHint", "300000");
        w.WriteStartElement("LBProbePorts");
        w.WriteElementString("Port", "16001");
        w.WriteEndElement();
        w.WriteElementString("ExpectHealthReport", "FALSE");
        w.WriteEndElement();
        w.WriteStartElement("Container");
        w.WriteElementString("ContainerId", vm.ContainerId);
        w.WriteStartElement("RoleInstanceList");
        w.WriteStartElement("RoleInstance");
        w.WriteElementString("InstanceId", vm.InstanceId);
        w.WriteElementString("State", "Started");
        w.WriteStartElement("Configuration");
        w.WriteElementString("HostingEnvironmentConfig", $"{configBase}?comp=config&type=hostingEnvironmentConfig&incarnation={inc}");
        w.WriteElementString("SharedConfig", $"{configBase}?comp=config&type=sharedConfig&incarnation={inc}");
        w.WriteElementString("ExtensionsConfig", $"{configBase}?comp=config&type=extensionsConfig&incarnation={inc}");
        w.WriteElementString("FullConfig", $"{configBase}?comp=config&type=fullConfig&incarnation={inc}");
        w.WriteElementString("ConfigName", $"{vm.ContainerId}.0.{vm.ContainerId}.0.{vm.Name}.{inc}.xml");
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteEndElement();
    });

    public static string HostingEnvironment(VmState vm, int incarnation) => Write(w =>
    {
        w.WriteStartElement("HostingEnvironmentConfig");
        w.WriteAttributeString("version", "1.0.0.0");
        w.WriteAttributeString("goalStateIncarnation", incarnation.ToString(CultureInfo.InvariantCulture));
        WriteDeployment(w, vm, incarnation);
        w.WriteStartElement("Role");
        w.WriteAttributeString("guid", "{" + vm.Definition.VmId + "}");
        w.WriteAttributeString("name", vm.Name);
        w.WriteAttributeString("hostingEnvironmentVersion", "1");
        w.WriteAttributeString("software", "");
        w.WriteAttributeString("softwareType", "ApplicationPackage");
        w.WriteAttributeString("entryPoint", "");
        w.WriteAttributeString("parameters", "");
        w.WriteAttributeString("settleTimeSeconds", "10");
        w.WriteEndElement();
        w.WriteStartElement("HostingEnvironmentSettings");
        w.WriteAttributeString("name", "full");
        w.WriteAttributeString("Runtime", "rd_fabric_stable.latch-emulator");
        w.WriteStartElement("CAS");
        w.WriteAttributeString("mode", "full");
        w.WriteEndElement();
        w.WriteStartElement("PrivilegeLevel");
        w.WriteAttributeString("mode", "max");
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteStartElement("ApplicationSettings");
        w.WriteEndElement();
        w.WriteStartElement("ResourceReferences");
        w.WriteEndElement();
        w.WriteEndElement();
    });

    public static string SharedConfig(VmState vm, int incarnation) => Write(w =>
    {
        w.WriteStartElement("SharedConfig");
        w.WriteAttributeString("version", "1.0.0.0");
        w.WriteAttributeString("goalStateIncarnation", incarnation.ToString(CultureInfo.InvariantCulture));
        WriteDeployment(w, vm, incarnation);
        w.WriteStartElement("Role");
        w.WriteAttributeString("guid", "{" + vm.Definition.VmId + "}");
        w.WriteAttributeString("name", vm.Name);
        w.WriteAttributeString("settleTimeSeconds", "10");
        w.WriteEndElement();
        w.WriteStartElement("LoadBalancerSettings");
        w.WriteAttributeString("timeoutSeconds", "0");
        w.WriteAttributeString("waitLoadBalancerProbeCount", "8");
        w.WriteStartElement("Probes");
        w.WriteStartElement("Probe");
        w.WriteAttributeString("name", "D41D8CD98F00B204E9800998ECF8427E");
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteStartElement("OutputEndpoints");
        w.WriteEndElement();
        w.WriteStartElement("Instances");
        w.WriteStartElement("Instance");
        w.WriteAttributeString("id", vm.InstanceId);
        w.WriteAttributeString("address", vm.Definition.PrivateIpAddress);
        w.WriteStartElement("FaultDomains");
        w.WriteAttributeString("randomId", "0");
        w.WriteAttributeString("updateId", "0");
        w.WriteAttributeString("updateCount", "0");
        w.WriteEndElement();
        w.WriteStartElement("InputEndpoints");
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteEndElement();
    });

    /// <summary>
    /// An ExtensionsConfig with no extensions; its status blob points back at the emulator. The metadata (ids, creation
    /// time, status blob) is what the HostGAPlugin's vmSettings repeats for the same goal state: waagent compares them.
    /// </summary>
    public static string ExtensionsConfig(VmState vm, int incarnation, DateTimeOffset createdAt, string baseUri) => Write(w =>
    {
        var inc = incarnation.ToString(CultureInfo.InvariantCulture);
        w.WriteStartElement("Extensions");
        w.WriteAttributeString("version", "1.0.0.0");
        w.WriteAttributeString("goalStateIncarnation", inc);
        w.WriteStartElement("GuestAgentExtension");
        w.WriteAttributeString("xmlns", "i", null, "http://www.w3.org/2001/XMLSchema-instance");
        w.WriteStartElement("GAFamilies");
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteStartElement("Plugins");
        w.WriteEndElement();
        w.WriteStartElement("PluginSettings");
        w.WriteEndElement();
        w.WriteStartElement("StatusUploadBlob");
        w.WriteAttributeString("statusBlobType", "BlockBlob");
        w.WriteString(StatusBlobUri(vm, baseUri));
        w.WriteEndElement();
        w.WriteStartElement("InVMGoalStateMetaData");
        w.WriteAttributeString("inSvdSeqNo", inc);
        w.WriteAttributeString("createdOnTicks", createdAt.UtcTicks.ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("activityId", ActivityId(vm, incarnation));
        w.WriteAttributeString("correlationId", CorrelationId(vm, incarnation));
        w.WriteEndElement();
        w.WriteEndElement();
    });

    /// <summary>Where the agent uploads its status blob (the WireServer stands in for Azure Storage).</summary>
    public static string StatusBlobUri(VmState vm, string wireServerBaseUri) => $"{wireServerBaseUri}/machine/{vm.ContainerId}/{vm.InstanceId}/status";

    public static string ActivityId(VmState vm, int incarnation) =>
        Scenarios.ScenarioLoader.StableGuid(string.Create(CultureInfo.InvariantCulture, $"activity:{vm.ContainerId}:{incarnation}"));

    public static string CorrelationId(VmState vm, int incarnation) =>
        Scenarios.ScenarioLoader.StableGuid(string.Create(CultureInfo.InvariantCulture, $"correlation:{vm.ContainerId}:{incarnation}"));

    /// <summary>The FullConfig document: the role model; agents read only its presence.</summary>
    public static string FullConfig(VmState vm, int incarnation) => Write(w =>
    {
        w.WriteStartElement("RoleConfig");
        w.WriteAttributeString("version", "1.0.0.0");
        w.WriteAttributeString("goalStateIncarnation", incarnation.ToString(CultureInfo.InvariantCulture));
        w.WriteStartElement("Role");
        w.WriteAttributeString("name", vm.Name);
        w.WriteEndElement();
        w.WriteEndElement();
    });

    private static void WriteDeployment(XmlWriter w, VmState vm, int incarnation)
    {
        var deployment = vm.ContainerId.Replace("-", "", StringComparison.Ordinal);
        w.WriteStartElement("Deployment");
        w.WriteAttributeString("name", deployment);
        w.WriteAttributeString("guid", "{" + vm.ContainerId + "}");
        w.WriteAttributeString("incarnation", incarnation.ToString(CultureInfo.InvariantCulture));
        w.WriteStartElement("Service");
        w.WriteAttributeString("name", vm.Name + "Service");
        w.WriteAttributeString("guid", "{00000000-0000-0000-0000-000000000000}");
        w.WriteEndElement();
        w.WriteStartElement("ServiceInstance");
        w.WriteAttributeString("name", deployment + ".0");
        w.WriteAttributeString("guid", "{" + vm.Definition.VmId + "}");
        w.WriteEndElement();
        w.WriteEndElement();
        w.WriteStartElement("Incarnation");
        w.WriteAttributeString("number", incarnation.ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("instance", vm.InstanceId);
        w.WriteAttributeString("guid", "{" + vm.ContainerId + "}");
        w.WriteEndElement();
    }

    private static string Write(Action<XmlWriter> body)
    {
        var builder = new StringBuilder();
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true, OmitXmlDeclaration = true };
        using (var writer = XmlWriter.Create(builder, settings))
        {
            body(writer);
        }

        return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + builder.ToString();
    }
}
